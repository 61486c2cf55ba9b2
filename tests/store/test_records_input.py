"""Issue 28, finding 6 on SQLite and PostgreSQL: the import format as documented, cause keys on `record
rollback` and their removal, impossible histories refused, an unknown model refused, `--json` everywhere."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from typer.testing import CliRunner, Result

from harness.cli.main import app
from harness.exit_codes import ExitStatus
from harness.store import Deployment, Rollback, Store

RUNNER = CliRunner()
ROOT = Path(__file__).resolve().parents[2]
ROLLBACK = ["record", "rollback", "--model", "fraud", "--from", "7", "--to", "6", "--decided-at",
            "2026-10-01T12:00:00Z", "--completed-at", "2026-10-01T12:09:00Z", "--trigger", "manual",
            "--root-cause", "business-rule"]


def cli(*args: str, store: str) -> Result:
    return RUNNER.invoke(app, [*args, "--store", store])


def documented_import_example() -> str:
    page = (ROOT / "docs" / "store.md").read_text(encoding="utf-8")
    found = re.findall(r"^```jsonl\n(.*?)^```", page, re.S | re.M)
    assert len(found) == 1, "docs/store.md shows the import format once, as ```jsonl"
    return str(found[0])


def test_the_documented_import_example_imports_and_exports_as_written(store_url: str, tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text(documented_import_example(), encoding="utf-8")
    r = cli("import", str(path), store=store_url)
    assert r.exit_code == 0, r.output
    assert "3 new, 0 already present (2 deployments, 1 rollbacks)" in r.stdout
    with Store.open(store_url) as st:
        events = list(st.export_events())
    rollbacks = [e for e in events if isinstance(e, Rollback)]
    assert [(e.model, e.environment) for e in events if isinstance(e, Deployment)] == [
        ("fraud", "production"), ("fraud", "staging")]
    assert rollbacks[0].cause_keys == ("schema-drift:customer_age",)
    assert rollbacks[0].rca_url == "https://wiki.example/pm/42"


def test_record_rollback_takes_cause_keys_and_rca_removes_one(store_url: str) -> None:
    r = cli(*ROLLBACK, "--cause-key", "schema-drift:age", "--cause-key", "feature-store:lag", store=store_url)
    assert r.exit_code == 0, r.output
    with Store.open(store_url) as st:
        assert st.stored_rollbacks("fraud")[0].rollback.cause_keys == ("feature-store:lag", "schema-drift:age")
    bad = cli(*ROLLBACK, "--cause-key", "Not A Key", store=store_url)
    assert bad.exit_code == ExitStatus.BAD_INPUT and "--cause-key" in bad.output
    r = cli("record", "rca", "fraud@7", "--remove-cause-key", "feature-store:lag", store=store_url)
    assert r.exit_code == 0, r.output
    assert "cause keys schema-drift:age" in r.stdout
    absent = cli("record", "rca", "fraud@7", "--remove-cause-key", "feature-store:lag", store=store_url)
    assert absent.exit_code == ExitStatus.BAD_INPUT
    assert "has no cause key 'feature-store:lag'" in absent.output


def test_a_rollback_decided_before_its_deployment_is_refused(store_url: str, tmp_path: Path) -> None:
    assert cli("record", "deploy", "--model", "fraud", "--version", "7", "--at", "2026-10-02T00:00:00Z",
               store=store_url).exit_code == 0
    r = cli(*ROLLBACK, store=store_url)  # decided 2026-10-01T12:00Z, a day before version 7 went live
    assert r.exit_code == ExitStatus.BAD_INPUT, r.output
    assert "before that version was deployed" in r.output
    path = tmp_path / "bad.jsonl"
    path.write_text(
        '{"type": "deployment", "model": "churn", "version": "1", "deployed_at": "2026-10-05T00:00:00Z"}\n'
        '{"type": "rollback", "model": "churn", "from_version": "1", "to_version": "0", '
        '"decided_at": "2026-10-04T00:00:00Z", "completed_at": "2026-10-04T00:05:00Z", '
        '"trigger": "manual", "root_cause": "other"}\n', encoding="utf-8")
    r = cli("import", str(path), store=store_url)
    assert r.exit_code == ExitStatus.BAD_INPUT, r.output
    assert str(path) in r.output
    with Store.open(store_url) as st:  # all or nothing: not even the import's deployment
        assert st.stored_rollbacks("fraud") == [] and st.deployments_of("churn") == []


def test_release_notes_of_an_unknown_model_exit_2(store_url: str) -> None:
    assert cli("record", "deploy", "--model", "fraud", "--version", "7", store=store_url).exit_code == 0
    r = cli("release-notes", "--model", "nosuch", store=store_url)
    assert r.exit_code == ExitStatus.BAD_INPUT and "no model 'nosuch'" in r.output
    ok = cli("release-notes", "--model", "fraud", "--json", store=store_url)
    assert ok.exit_code == 0 and json.loads(ok.stdout)["model"] == "fraud"


def test_the_reference_types_freshness_as_days_not_int() -> None:
    from typer.main import get_command

    from harness.authoring.reference import pages

    row = next(line for line in pages(get_command(app))["reference/runbook.md"].splitlines() if line.startswith("| `freshness`"))
    assert "`days (90d, 13w or a number)`" in row and "`int`" not in row


DATA_COMMANDS = (("record", "deploy"), ("record", "rollback"), ("record", "rca"), ("import",), ("metrics",),
                 ("status",), ("gate",), ("release-notes",), ("runs",), ("show",))


def test_every_command_that_prints_data_takes_json() -> None:
    import click
    from typer.main import get_command

    root = get_command(app)
    for path in DATA_COMMANDS:
        command: Any = root
        for name in path:
            group = getattr(command, "get_command", None)
            assert group is not None, path
            found = group(click.Context(command), name)
            assert found is not None, path
            command = found
        options = {opt for param in command.params for opt in getattr(param, "opts", [])}
        assert "--json" in options, " ".join(path)


def test_record_and_import_print_json(store_url: str, tmp_path: Path) -> None:
    r = cli("record", "deploy", "--model", "fraud", "--version", "7", "--at", "2026-10-01T10:00:00Z", "--json",
            store=store_url)
    assert json.loads(r.stdout) == {"recorded": True, "event": {
        "type": "deployment", "model": "fraud", "version": "7", "deployed_at": "2026-10-01T10:00:00Z",
        "environment": "production"}}
    r = cli(*ROLLBACK, "--json", store=store_url)
    assert json.loads(r.stdout)["event"]["root_cause"] == "business-rule"
    r = cli("record", "rca", "fraud@7", "--cause-key", "rule:limit", "--json", store=store_url)
    assert json.loads(r.stdout)["cause_keys"] == ["rule:limit"]
    path = tmp_path / "e.jsonl"
    path.write_text(documented_import_example())
    data = json.loads(cli("import", str(path), "--json", store=store_url).stdout)
    assert (data["inserted"], data["skipped"], data["deployments_inserted"]) == (1, 2, 1)  # recorded above
