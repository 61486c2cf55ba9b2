"""Issue 28, finding 7 on SQLite and PostgreSQL: fresh means *proven recently*. A runbook whose latest drill
did not end as expected is stale; a comment or a reformatting is not a change, a changed step is; `drill
status` counts runbooks and models apart; runs are aged by importing them (``"type": "drill_run"``)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from harness.cli.main import app
from harness.programme.hashing import content_hash, file_hash
from harness.spec.catalogue import BUILTIN_ROOT
from harness.store import format_timestamp

RUNNER = CliRunner()


def cli(*args: str, store: str) -> Result:
    return RUNNER.invoke(app, [*args, "--store", store])


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "project"
    (root / "drills").mkdir(parents=True)
    (root / "runbooks").mkdir()
    (root / "drills" / "canary-fail.yaml").write_text((BUILTIN_ROOT / "drills" / "canary-fail.yaml").read_text())
    (root / "runbooks" / "canary-rollback.yaml").write_text(
        (BUILTIN_ROOT / "runbooks" / "canary-rollback.yaml").read_text())
    monkeypatch.chdir(root)
    monkeypatch.delenv("DRILL_PATH", raising=False)
    return root


def import_runs(tmp_path: Path, store: str, *runs: dict[str, object]) -> None:
    path = tmp_path / "runs.jsonl"
    path.write_text("".join(json.dumps({"type": "drill_run", "drill": "canary-fail", "model": "fraud",
                                        "runbook": "canary-rollback", "expect": "rollback",
                                        "rolled_back": True, "trigger": "automated",
                                        "root_cause": "performance", **run}) + "\n" for run in runs))
    result = cli("import", str(path), store=store)
    assert result.exit_code == 0, result.output


def ago(days: float) -> str:
    return format_timestamp(datetime.now(UTC) - timedelta(days=days))


def status(store: str) -> tuple[int, dict[str, object]]:
    result = cli("status", "--json", store=store)
    return result.exit_code, json.loads(result.stdout)


def test_a_failed_drill_after_a_good_one_makes_the_runbook_stale(project: Path, tmp_path: Path,
                                                                 store_url: str) -> None:
    digest = content_hash(project / "runbooks" / "canary-rollback.yaml")
    import_runs(tmp_path, store_url,
                {"run_id": "good", "started_at": ago(3), "status": "passed", "as_expected": True,
                 "runbook_hash": digest})
    code, data = status(store_url)
    assert code == 0, data
    import_runs(tmp_path, store_url,
                {"run_id": "bad", "started_at": ago(1), "status": "failed", "as_expected": False,
                 "runbook_hash": digest})
    code, data = status(store_url)
    row = data["runbooks"][0]  # type: ignore[index]
    assert code == 1 and row["stale"]
    assert "its latest drill bad did not end as expected (failed)" in row["reasons"]
    assert data["models"][0]["stale"]  # type: ignore[index]
    assert data["counts"] == {"runbooks": {"total": 1, "stale": 1}, "models": {"total": 1, "stale": 1}}
    table = cli("status", store=store_url).stdout
    assert "1 of 1 runbooks stale; 1 of 1 models stale" in table


def test_a_comment_is_not_a_change_and_a_changed_step_is(project: Path, tmp_path: Path, store_url: str) -> None:
    path = project / "runbooks" / "canary-rollback.yaml"
    import_runs(tmp_path, store_url, {"run_id": "good", "started_at": ago(2), "status": "passed",
                                      "as_expected": True, "runbook_hash": content_hash(path)})
    original = path.read_text()
    path.write_text("# reviewed by Ana on 1 December\n" + original.replace("steps:", "steps:   # in order"))
    code, data = status(store_url)
    assert code == 0 and data["runbooks"][0]["changed_since"] is False  # type: ignore[index]
    path.write_text(original.replace("timeout: 15s", "timeout: 20s"))
    code, data = status(store_url)
    assert code == 1 and data["runbooks"][0]["changed_since"] is True  # type: ignore[index]


def test_runs_recorded_with_the_old_byte_hash_stay_fresh(project: Path, tmp_path: Path, store_url: str) -> None:
    path = project / "runbooks" / "canary-rollback.yaml"
    assert file_hash(path) != content_hash(path)
    import_runs(tmp_path, store_url, {"run_id": "old", "started_at": ago(2), "status": "passed",
                                      "as_expected": True, "runbook_hash": file_hash(path)})
    assert status(store_url)[0] == 0


def test_an_aged_import_makes_the_runbook_stale(project: Path, tmp_path: Path, store_url: str) -> None:
    import_runs(tmp_path, store_url, {"run_id": "aged", "started_at": ago(100), "status": "passed",
                                      "as_expected": True,
                                      "runbook_hash": content_hash(project / "runbooks" / "canary-rollback.yaml")})
    code, data = status(store_url)
    assert code == 1
    assert "last as-expected drill 100 days ago (freshness 90 days)" in data["runbooks"][0]["reasons"]  # type: ignore[index]


def test_the_documented_drill_run_line_imports(store_url: str, tmp_path: Path) -> None:
    import re

    page = (Path(__file__).resolve().parents[2] / "docs" / "programme.md").read_text(encoding="utf-8")
    (example,) = re.findall(r"^```jsonl\n(.*?)^```", page, re.S | re.M)
    path = tmp_path / "aged.jsonl"
    path.write_text(example)
    result = cli("import", str(path), store=store_url)
    assert result.exit_code == 0, result.output
    assert "1 new" in result.stdout and "1 drill runs" in result.stdout
    shown = json.loads(cli("show", "aged-1", "--json", store=store_url).stdout)["run"]
    assert shown["started_at"] == "2026-08-01T03:00:00Z" and shown["steps"][0]["action"] == "registry.check_prior_versions"
