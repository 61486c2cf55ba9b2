"""Bad input for the external target and stop conditions: exit 2 naming the file and the field, nothing started.

"Nothing started" is checked where it could have: the team's ops script logs every command it runs, and
the store and report directory stay unwritten.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from harness.cli.confirm import confirm_reach
from harness.cli.main import app
from harness.errors import SpecError
from harness.exit_codes import ExitStatus
from harness.spec import catalogue
from tests.targets.test_external_target import write_project

RUNNER = CliRunner()
STAGING = "http://gateway.staging.example:8080"  # never reached: every case stops at load


def _run(tmp_path: Path, drill: Path, *flags: str) -> Result:
    store, reports = tmp_path / "store.db", tmp_path / "reports"
    result = RUNNER.invoke(app, ["run", str(drill), "--store", str(store), "--report-dir", str(reports), *flags])
    assert not store.exists() and not reports.exists(), "bad input must write nothing"
    assert not (tmp_path / "ops.log").exists(), "no command of the team's may have run"
    return result


def _bad(result: Result, *needles: str) -> None:
    assert result.exit_code == ExitStatus.BAD_INPUT, result.output
    for needle in needles:
        assert needle in result.output, f"{needle!r} not in {result.output}"


def test_a_url_beyond_loopback_needs_its_environment_named(tmp_path: Path) -> None:
    drill = write_project(tmp_path, f"{STAGING}/predict", STAGING)
    _bad(_run(tmp_path, drill), "staging-canary.yaml", "environment", "target.url reaches gateway.staging.example")


def test_a_guard_beyond_loopback_needs_it_too(tmp_path: Path) -> None:
    guards = "stop_conditions:\n  - {name: prom, kind: promql, prometheus: 'http://10.0.0.5:9090', query: up, below: 1}\n"
    drill = write_project(tmp_path, "http://127.0.0.1:9/predict", "http://127.0.0.1:9", stop_conditions=guards)
    _bad(_run(tmp_path, drill), "environment", "stop_conditions.0.prometheus reaches 10.0.0.5")


def test_beyond_loopback_the_rate_is_capped(tmp_path: Path) -> None:
    drill = write_project(tmp_path, f"{STAGING}/predict", STAGING, head="environment: staging\n")
    drill.write_text(drill.read_text().replace("traffic: {rate: 40}", "traffic: {rate: 400}"))
    _bad(_run(tmp_path, drill), "traffic.rate", "at most 100 requests/s")


def test_a_named_environment_is_still_confirmed_before_anything_starts(tmp_path: Path) -> None:
    drill = write_project(tmp_path, f"{STAGING}/predict", STAGING, head="environment: staging\n")
    _bad(_run(tmp_path, drill), "environment", "'staging'", "confirm with --yes")


def test_confirmation_asks_and_a_no_stops_it(tmp_path: Path) -> None:
    loaded = [catalogue.load_drill(str(write_project(tmp_path, f"{STAGING}/predict", STAGING,
                                                     head="environment: staging\n")))]
    asked: list[str] = []

    def no(question: str) -> bool:
        asked.append(question)
        return False

    with pytest.raises(SpecError, match="not confirmed"):
        confirm_reach(loaded, yes=False, interactive=True, ask=no)
    assert "environment 'staging' (gateway.staging.example)" in asked[0]
    confirm_reach(loaded, yes=False, interactive=True, ask=lambda q: True)
    confirm_reach(loaded, yes=True, interactive=False, ask=lambda q: False)  # --yes: no question


@pytest.mark.parametrize(("guard", "needles"), [
    ("{name: p, kind: promql, query: up, above: 1, below: 0, prometheus: 'http://127.0.0.1:9090'}",
     ("stop_conditions.0", "exactly one of above or below")),
    ("{name: h, kind: http, url: 'ftp://127.0.0.1/x'}", ("stop_conditions.0.http.url", "http://host")),
    ("{name: h, kind: http, url: 'http://127.0.0.1/x', interval: 2s}", ("stop_conditions.0.http.interval", "1")),
    ("{name: b, kind: error_budget, max_error_rate: 1.5}", ("stop_conditions.0.error_budget.max_error_rate",)),
    ("{name: x, kind: alarm}", ("stop_conditions.0", "promql", "error_budget", "http")),
    ("{name: p, kind: promql, query: up, below: 1}", ("stop_conditions.0.prometheus", "names no Prometheus")),
])
def test_a_malformed_guard_is_bad_input(tmp_path: Path, guard: str, needles: tuple[str, ...]) -> None:
    drill = write_project(tmp_path, "http://127.0.0.1:9/predict", "http://127.0.0.1:9",
                          stop_conditions=f"stop_conditions:\n  - {guard}\n")
    _bad(_run(tmp_path, drill, "--yes"), "staging-canary.yaml", *needles)


def test_two_guards_of_one_name(tmp_path: Path) -> None:
    guards = ("stop_conditions:\n  - {name: b, kind: error_budget, max_error_rate: 0.1}\n"
              "  - {name: b, kind: error_budget, max_error_rate: 0.2}\n")
    drill = write_project(tmp_path, "http://127.0.0.1:9/predict", "http://127.0.0.1:9", stop_conditions=guards)
    _bad(_run(tmp_path, drill), "stop_conditions.1.name", "two stop conditions are named 'b'")


@pytest.mark.parametrize(("old", "new", "needles"), [
    ('"${weight}"]]', '"${wieght}"]]', ("staging-canary.yaml:", "target.deploy.0.argv", "uses ${wieght}, which is not set; give --var wieght=VALUE")),
    ("  version: {header: X-Model-Version}\n", "", ("target.version", "Field required")),
    ("  version: {header: X-Model-Version}\n", "  version: {}\n", ("target", "give header or json_field")),
    ("  workdir: ../ops\n", "  workdir: ../nowhere\n", ("target.workdir", "no directory")),
    ("  rollback: [", "  rollback: []\n  x: [", ("target.rollback",)),
    ("fault: {kind: none}", "fault: {kind: error, inject: true}", ("fault", "drill injects nothing")),
    ("strategy: {kind: canary, weight: 30}", "strategy: {kind: late}", ("strategy.kind", "plays strategies blue-green, canary")),
    ("runbook: team-rollback\n", "runbook: team-rollback\nadversity: [{kind: router-api-down, at: decision, for: 5s}]\n",
     ("adversity", "starts none")),
])
def test_a_malformed_external_target_is_bad_input(tmp_path: Path, old: str, new: str, needles: tuple[str, ...]) -> None:
    drill = write_project(tmp_path, "http://127.0.0.1:9/predict", "http://127.0.0.1:9")
    text = drill.read_text()
    assert old in text
    drill.write_text(text.replace(old, new, 1))
    _bad(_run(tmp_path, drill), *needles)


def test_a_sabotage_of_a_stack_drill_did_not_start_is_refused(tmp_path: Path) -> None:
    drill = write_project(tmp_path, "http://127.0.0.1:9/predict", "http://127.0.0.1:9", head="sabotage: missing-previous\n")
    _bad(_run(tmp_path, drill), "sabotage", "drill does not break it")


def test_the_plan_says_nothing_is_started_and_names_the_moves_and_guards(tmp_path: Path) -> None:
    guards = "stop_conditions:\n  - {name: budget, kind: error_budget, max_error_rate: 0.05}\n"
    drill = write_project(tmp_path, f"{STAGING}/predict", STAGING, head="environment: staging\n", stop_conditions=guards)
    result = RUNNER.invoke(app, ["run", str(drill), "--dry-run"])  # a plan starts nothing: no confirmation needed
    assert result.exit_code == 0, result.output
    assert f"nothing started: the team's stack at {STAGING}/predict (environment staging)" in result.output
    assert "rollback: " in result.output and "ops.py rollback ${stable_version}" in result.output
    assert "stop condition budget: client errors > 5.0%" in result.output
    assert not (tmp_path / "ops.log").exists()


def test_a_gameday_asks_too_and_refuses_without_yes(tmp_path: Path) -> None:
    drill = write_project(tmp_path, f"{STAGING}/predict", STAGING, head="environment: staging\n")
    plan = tmp_path / "plan.yaml"
    plan.write_text("name: q4\nparticipants:\n  - {name: Ana, role: incident-commander}\n  - {name: Ben, role: operator}\n"
                    f"  - {{name: Chloe, role: scribe}}\ndrills: [{drill}]\n")
    store, reports = tmp_path / "store" / "drill.db", tmp_path / "reports"
    result = RUNNER.invoke(app, ["gameday", str(plan), "--store", str(store), "--report-dir", str(reports)])
    _bad(result, "environment 'staging'", "confirm with --yes")
    assert not store.exists() and not reports.exists() and not (tmp_path / "ops.log").exists()
