"""The store commands through typer's CliRunner: flags, exit codes, output formats."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner, Result

from harness.exit_codes import ExitStatus
from harness.store import Store, write_jsonl

RUNNER = CliRunner()

OCT = ["--since", "2026-10-01", "--until", "2026-11-01"]


def run(app: typer.Typer, *args: str, store: str | None = None) -> Result:
    argv = list(args) + (["--store", store] if store else [])
    return RUNNER.invoke(app, argv)


@pytest.fixture
def events_file(tmp_path: Path, scenario: list) -> Path:
    path = tmp_path / "events.jsonl"
    with path.open("w") as handle:
        write_jsonl(scenario, handle)
    return path


def test_record_deploy_and_rollback(cli_app: typer.Typer, store_url: str) -> None:
    r = run(cli_app, "record", "deploy", "--model", "fraud", "--version", "7",
            "--at", "2026-10-01T12:00:00+02:00", store=store_url)
    assert r.exit_code == 0, r.output
    assert "recorded: deployment fraud 7 (production) at 2026-10-01T10:00:00Z" in r.stdout
    again = run(cli_app, "record", "deploy", "--model", "fraud", "--version", "7",
                "--at", "2026-10-01T10:00:00Z", store=store_url)
    assert "already recorded" in again.stdout
    r = run(cli_app, "record", "rollback", "--model", "fraud", "--from", "7", "--to", "6",
            "--decided-at", "2026-10-01T12:00:00Z", "--completed-at", "2026-10-01T12:09:00Z",
            "--trigger", "automated", "--root-cause", "performance", "--rca-url", "https://rca/1",
            store=store_url)
    assert r.exit_code == 0, r.output
    m = json.loads(run(cli_app, "metrics", "--format", "json", *OCT, store=store_url).stdout)
    assert (m["deployments"], m["rollbacks"], m["mean_time_to_rollback_hours"]) == (1, 1, 2.0)
    assert m["mean_decision_to_completion_minutes"] == 9.0


def test_planned_flag_and_environment(cli_app: typer.Typer, store_url: str) -> None:
    run(cli_app, "record", "deploy", "--model", "m", "--version", "2", "--at",
        "2026-10-02T00:00:00Z", "--environment", "staging", store=store_url)
    r = run(cli_app, "record", "rollback", "--model", "m", "--from", "2", "--to", "1",
            "--decided-at", "2026-10-02T01:00:00Z", "--completed-at", "2026-10-02T01:05:00Z",
            "--trigger", "manual", "--root-cause", "business-rule", "--planned",
            "--environment", "staging", store=store_url)
    assert r.exit_code == 0, r.output
    m = json.loads(run(cli_app, "metrics", "--format", "json", "--environment", "staging",
                       store=store_url).stdout)
    assert (m["deployments"], m["rollbacks"], m["planned_rollbacks"]) == (1, 0, 1)


@pytest.mark.parametrize(("flag", "value"), [
    ("--trigger", "robot"),
    ("--root-cause", "gremlins"),
    ("--decided-at", "2026-10-01T12:00:00"),
    ("--completed-at", "tomorrow"),
])
def test_bad_flag_values_exit_2_naming_the_option(cli_app: typer.Typer, tmp_path: Path,
                                                  flag: str, value: str) -> None:
    args = {"--model": "m", "--from": "2", "--to": "1", "--decided-at": "2026-10-01T12:00:00Z",
            "--completed-at": "2026-10-01T12:05:00Z", "--trigger": "manual",
            "--root-cause": "other"} | {flag: value}
    argv = ["record", "rollback", *[x for pair in args.items() for x in pair]]
    r = run(cli_app, *argv, store=str(tmp_path / "s.db"))
    assert r.exit_code == ExitStatus.BAD_INPUT
    assert flag in r.stderr


def test_completed_before_decided_exits_2(cli_app: typer.Typer, tmp_path: Path) -> None:
    r = run(cli_app, "record", "rollback", "--model", "m", "--from", "2", "--to", "1",
            "--decided-at", "2026-10-01T12:00:00Z", "--completed-at", "2026-10-01T11:00:00Z",
            "--trigger", "manual", "--root-cause", "other", store=str(tmp_path / "s.db"))
    assert r.exit_code == 2 and "--completed-at" in r.stderr


def test_bad_metrics_flags_exit_2(cli_app: typer.Typer, tmp_path: Path) -> None:
    s = str(tmp_path / "s.db")
    for argv, name in ((["--since", "last week"], "--since"), (["--window-days", "0"], "--window-days"),
                       (["--format", "xml"], "--format"), (["--by", "week"], "--by"),
                       (["--since", "2026-10-02", "--until", "2026-10-01"], "--until")):
        r = run(cli_app, "metrics", *argv, store=s)
        assert r.exit_code == 2 and name in r.stderr, (argv, r.output)


def test_import_is_idempotent_and_export_round_trips(cli_app: typer.Typer, store_url: str,
                                                     events_file: Path, tmp_path: Path,
                                                     scenario: list) -> None:
    r = run(cli_app, "import", str(events_file), store=store_url)
    assert r.exit_code == 0, r.output
    assert f"{len(scenario)} new, 0 already present" in r.stdout
    r = run(cli_app, "import", str(events_file), store=store_url)
    assert f"0 new, {len(scenario)} already present" in r.stdout

    exported = run(cli_app, "export", store=store_url)
    assert exported.exit_code == 0
    assert sorted(exported.stdout.splitlines()) == sorted(events_file.read_text().splitlines())
    out = tmp_path / "out.jsonl"
    assert run(cli_app, "export", "--output", str(out), store=store_url).exit_code == 0
    assert out.read_text() == exported.stdout

    copy = str(tmp_path / "copy.db")
    assert run(cli_app, "import", str(out), store=copy).exit_code == 0
    a = run(cli_app, "metrics", "--format", "json", *OCT, store=store_url).stdout
    b = run(cli_app, "metrics", "--format", "json", *OCT, store=copy).stdout
    assert a == b and json.loads(a)["rollbacks"] == 5


def test_bad_line_exits_2_and_writes_nothing(cli_app: typer.Typer, store_url: str,
                                             events_file: Path) -> None:
    lines = events_file.read_text().splitlines()
    broken = json.loads(lines[3]) | {"trigger": "sometimes"}  # line 4: a rollback
    lines[3] = json.dumps(broken)
    events_file.write_text("\n".join(lines) + "\n")
    r = run(cli_app, "import", str(events_file), store=store_url)
    assert r.exit_code == ExitStatus.BAD_INPUT
    assert f"{events_file}:4: trigger: must be one of automated, manual" in r.stderr
    with Store.open(store_url) as st:
        assert list(st.export_events()) == []


def test_missing_file_exits_2(cli_app: typer.Typer, tmp_path: Path) -> None:
    r = run(cli_app, "import", str(tmp_path / "nope.jsonl"), store=str(tmp_path / "s.db"))
    assert r.exit_code == 2 and "nope.jsonl" in r.stderr


def test_unreachable_store_exits_3(cli_app: typer.Typer) -> None:
    r = run(cli_app, "metrics", store="postgresql://u:pw@127.0.0.1:1/x")
    assert r.exit_code == ExitStatus.ENVIRONMENT
    assert "cannot open the metrics store" in r.stderr and "pw" not in r.stderr


def test_store_from_environment_variable(cli_app: typer.Typer, tmp_path: Path) -> None:
    path = tmp_path / "env.db"
    r = RUNNER.invoke(cli_app, ["record", "deploy", "--model", "m", "--version", "1"],
                      env={"DRILL_STORE": str(path)})
    assert r.exit_code == 0, r.output
    assert path.exists()


def test_table_shows_band_interpretation_and_signals(cli_app: typer.Typer, store_url: str,
                                                     events_file: Path) -> None:
    run(cli_app, "import", str(events_file), store=store_url)
    r = run(cli_app, "metrics", *OCT, store=store_url)
    assert r.exit_code == 0, r.output
    for text in ("50.0 %", "high-risk", "13.00 h", "16.0 min", "<5% excellent: mature validation",
                 ">20% high risk: deployment process needs work", "Signals of success",
                 "Rollbacks whose cause key an earlier post-mortem had named (all unplanned rollbacks in the "
                 "period): none",
                 # all 7 unplanned rollbacks decided in October (tests/store/test_populations.py): 4 within
                 "decision to completion within 15 min for 57.1 % of all unplanned rollbacks in the period",
                 # six months before --until (2026-05-01 .. 11-01): 7 unplanned rollbacks decided, 2 with RCA
                 "RCA coverage (rollbacks of the last six months): 28.6 % of 7"):
        assert text in r.stdout, text


def test_by_quarter_and_model(cli_app: typer.Typer, store_url: str, events_file: Path) -> None:
    run(cli_app, "import", str(events_file), store=store_url)
    rows = json.loads(run(cli_app, "metrics", "--format", "json", "--by", "quarter",
                          store=store_url).stdout)
    assert [(r["quarter"], r["deployments"], r["rollbacks"]) for r in rows] == [
        ("2026-Q3", 1, 1), ("2026-Q4", 11, 5)]
    table = run(cli_app, "metrics", "--by", "model", *OCT, store=store_url).stdout
    assert all(name in table for name in ("churn", "fraud", "ranker", "high-risk"))


def test_openmetrics_passes_promtool(cli_app: typer.Typer, store_url: str, events_file: Path,
                                     promtool: str) -> None:
    run(cli_app, "import", str(events_file), store=store_url)
    for extra in ([], ["--by", "quarter"], ["--by", "model"], ["--model", "ranker"],
                  ["--environment", "nowhere"]):
        r = run(cli_app, "metrics", "--format", "openmetrics", *OCT, *extra, store=store_url)
        assert r.exit_code == 0, r.output
        assert r.stdout.endswith("# EOF\n")
        check = subprocess.run([promtool, "check", "metrics"], input=r.stdout, text=True,
                               capture_output=True, check=False)
        assert check.returncode == 0, (extra, check.stdout, check.stderr)


def test_openmetrics_values(cli_app: typer.Typer, store_url: str, events_file: Path) -> None:
    run(cli_app, "import", str(events_file), store=store_url)
    text = run(cli_app, "metrics", "--format", "openmetrics", *OCT, store=store_url).stdout
    samples = dict(line.rsplit(" ", 1) for line in text.splitlines() if not line.startswith("#"))
    assert samples['drill_rollback_ratio{environment="production"}'] == "0.5"
    assert samples['drill_mean_time_to_rollback_seconds{environment="production",population="in_window"}'] == "46800"
    assert samples['drill_rollback_band{environment="production",band="high-risk"}'] == "1"
    assert samples['drill_rollbacks_by_root_cause{environment="production",population="in_window",'
                   'root_cause="performance"}'] == "3"
    assert samples['drill_rollbacks_by_root_cause{environment="production",population="all_rollbacks",'
                   'root_cause="performance"}'] == "4"
    assert all(name.startswith("drill_") for name in samples)
