"""Drill and runbook validation: every issue at once, each with file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import api
from harness.errors import SpecError
from harness.spec import catalogue
from harness.spec.models import parse_duration

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = ROOT / "harness" / "data"  # the drills and runbooks shipped with the package


@pytest.mark.parametrize(("text", "seconds"), [("250ms", 0.25), ("5s", 5.0), ("15m", 900.0), ("1h", 3600.0), (3, 3.0)])
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["5 minutes", "-1s", "", True])
def test_bad_durations(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(bad)


def test_the_catalogue_validates() -> None:
    found = api.validate(sorted((CATALOGUE / "drills").glob("*.yaml")) + sorted((CATALOGUE / "runbooks").glob("*.yaml")))
    assert {v.name for v in found if v.kind == "drill"} >= {"canary-fail"}


def test_unknown_drill_names_itself_and_the_known_ones() -> None:
    with pytest.raises(SpecError) as exc:
        catalogue.load_drill("no-such-drill")
    assert "no-such-drill" in str(exc.value) and "canary-fail" in str(exc.value)


def test_malformed_yaml_names_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "broken.yaml"
    bad.write_text("name: broken\nfault: {kind: error_slice\nrunbook: x\n")
    with pytest.raises(SpecError) as exc:
        catalogue.load_drill(str(bad))
    issue = exc.value.issues[0]
    assert issue.file == str(bad) and "malformed YAML" in issue.message and issue.line is not None


def test_all_drill_errors_at_once_with_lines(tmp_path: Path) -> None:
    bad = tmp_path / "bad-drill.yaml"
    bad.write_text(
        "name: bad\n"
        "root_cause: cosmic-rays\n"          # line 2: not a class
        "fault: {kind: error_slice}\n"
        "strategy:\n"
        "  weight: lots\n"                   # line 5: wrong type
        "runbook: canary-rollback\n"
    )                                        # detection: missing
    with pytest.raises(SpecError) as exc:
        catalogue.load_drill(str(bad))
    by_field = {i.field: i for i in exc.value.issues}
    assert set(by_field) >= {"root_cause", "strategy.weight", "detection"}
    assert by_field["root_cause"].line == 2
    assert by_field["strategy.weight"].line == 5
    assert all(i.file == str(bad) for i in exc.value.issues)


def test_runbook_errors_unknown_action_bad_params_unknown_service(tmp_path: Path) -> None:
    rb = tmp_path / "bad-runbook.yaml"
    rb.write_text(
        "name: bad\n"
        "steps:\n"
        "  - name: a\n"
        "    action: router.teleport\n"       # line 4
        "  - name: b\n"
        "    action: router.set_weight\n"
        "    params: {server: candidate, weight: heavy}\n"   # line 7
        "  - name: c\n"
        "    action: service.stop\n"
        "    params:\n"
        "      service: database\n"           # line 11
        "  - name: d\n"
        "    action: verify.http\n"
        "    timeout: soon\n"                 # line 14
    )
    with pytest.raises(SpecError) as exc:
        api.validate([rb])
    issues = {i.field: i for i in exc.value.issues}
    assert issues["steps.3.timeout"].line == 14
    # pydantic stops at the first model error level; cross-checks run once the shape is valid
    rb.write_text(rb.read_text().replace("    timeout: soon\n", ""))
    with pytest.raises(SpecError) as exc:
        api.validate([rb])
    issues = {i.field: i for i in exc.value.issues}
    assert "unknown action 'router.teleport'" in issues["steps.0.action"].message
    assert issues["steps.0.action"].line == 4
    assert issues["steps.1.params.weight"].line == 7
    assert "no service 'database'" in issues["steps.2.params.service"].message
    assert issues["steps.2.params.service"].line == 11


def test_shell_step_needs_the_drill_to_allow_it(tmp_path: Path) -> None:
    (tmp_path / "runbooks").mkdir()
    (tmp_path / "drills").mkdir()
    (tmp_path / "runbooks" / "sh.yaml").write_text("name: sh\nsteps:\n  - name: s\n    action: shell\n    params: {command: 'true'}\n")
    drill = (CATALOGUE / "drills" / "canary-fail.yaml").read_text().replace("runbook: canary-rollback", "runbook: sh")
    (tmp_path / "drills" / "d.yaml").write_text(drill)
    with pytest.raises(SpecError) as exc:
        catalogue.load_drill(str(tmp_path / "drills" / "d.yaml"))
    assert "allow_shell" in str(exc.value)


def test_cli_validate_exits_2_naming_file_line_and_field(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from harness.cli.main import app

    rb = tmp_path / "rb.yaml"
    rb.write_text("name: rb\nsteps:\n  - name: a\n    action: router.teleport\n")
    result = CliRunner().invoke(app, ["validate", str(rb)])
    assert result.exit_code == 2
    assert f"{rb}:4: steps.0.action: unknown action 'router.teleport'" in result.output
    ok = CliRunner().invoke(app, ["validate", str(CATALOGUE / "runbooks" / "canary-rollback.yaml")])
    assert ok.exit_code == 0 and "ok  runbook  canary-rollback" in ok.output


def test_cli_dry_run_prints_the_plan_and_list_shows_the_catalogue() -> None:
    from typer.testing import CliRunner

    from harness.cli.main import app

    plan = CliRunner().invoke(app, ["run", "canary-fail", "--dry-run"])
    assert plan.exit_code == 0 and "drain-candidate: router.drain" in plan.output and "canary of the candidate at 10%" in plan.output
    assert "client-errors-vs-baseline: sequential test of client error" in plan.output and "(alpha 0.01)" in plan.output
    noisy = CliRunner().invoke(app, ["run", "good-canary", "--dry-run"])
    assert noisy.exit_code == 0 and "noise on every version: 2.0% errors, 10 ms jitter, 1.0% wrong answers" in noisy.output
    listing = CliRunner().invoke(app, ["list"])
    assert listing.exit_code == 0 and "broken-rollback-path" in listing.output and "blue-green" in listing.output
    md = CliRunner().invoke(app, ["runbook", "show", "canary-rollback"])
    assert md.exit_code == 0 and md.output.startswith("# Runbook: canary-rollback") and "| 2 | **drain-candidate**" in md.output


def test_validating_the_whole_catalogue_loads_no_docker_client() -> None:
    # The seams keep Docker behind the targets: `drill validate` and `drill list` work where no engine is.
    import subprocess
    import sys

    code = ("import sys; from harness.cli.main import app; from harness import api; from harness.spec import catalogue; "
            "[catalogue.load_drill(n) for n in catalogue.drill_names()]; "
            f"api.validate(sorted(__import__('pathlib').Path({str(CATALOGUE)!r}).glob('*/*.yaml'))); "
            "print([m for m in ('docker', 'testcontainers', 'mlflow') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"
