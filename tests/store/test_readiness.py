"""Rollback readiness and `drill gate` (issue 28) on SQLite and PostgreSQL, with runs put at chosen times by
importing them. The project: one drill (canary-fail's copy, model fraud, runbook canary-rollback, no
adversity). Fully drilled: one as-expected drill per root-cause class of the standard a day ago, one of them
with a passed `registry.check_prior_versions` step, every rollback within 15 minutes; no production rollback
(RCA coverage n/a) and no adversity declared (n/a): score 100."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from harness.cli.main import app
from harness.exit_codes import ExitStatus
from harness.programme.hashing import content_hash
from harness.programme.readiness import CLASSES, decay
from harness.spec.catalogue import BUILTIN_ROOT
from harness.store import format_timestamp

RUNNER = CliRunner()
PRIOR = [{"name": "check-prior", "action": "registry.check_prior_versions", "status": "passed"}]


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


def ago(days: float) -> str:
    return format_timestamp(datetime.now(UTC) - timedelta(days=days))


def import_runs(project: Path, store: str, runs: list[dict[str, object]]) -> None:
    digest = content_hash(project / "runbooks" / "canary-rollback.yaml")
    lines = [json.dumps({"type": "drill_run", "drill": "canary-fail", "model": "fraud", "runbook": "canary-rollback",
                         "runbook_hash": digest, "expect": "rollback", "rolled_back": True, "trigger": "automated",
                         "status": "passed", "as_expected": True, **run}) for run in runs]
    path = project.parent / "runs.jsonl"
    path.write_text("\n".join(lines) + "\n")
    result = cli("import", str(path), store=store)
    assert result.exit_code == 0, result.output


def fully_drilled(days: float = 1) -> list[dict[str, object]]:
    return [{"run_id": f"r-{cause}", "started_at": ago(days + i / 24), "root_cause": cause,
             **({"steps": PRIOR} if i == 0 else {})} for i, cause in enumerate(CLASSES)]


def gate(store: str, *extra: str) -> tuple[int, dict[str, object]]:
    result = cli("gate", "--model", "fraud", "--json", *extra, store=store)
    return result.exit_code, json.loads(result.stdout) if result.stdout.startswith("{") else {"output": result.output}


def test_decay_is_full_for_half_the_horizon_then_linear() -> None:
    assert [decay(a, 90) for a in (0, 45, 67.5, 90, 91)] == [1.0, 1.0, 0.5, 0.0, 0.0]
    assert decay(None, 90) == 0.0


def test_a_freshly_fully_drilled_model_passes(project: Path, store_url: str) -> None:
    import_runs(project, store_url, fully_drilled())
    code, data = gate(store_url, "--min-score", "100")
    assert code == ExitStatus.OK, data
    assert data["score"] == 100.0 and data["blockers"] == [] and data["passes"] is True
    parts = {p["name"]: p for p in data["parts"]}  # type: ignore[union-attr]
    assert parts["adversity"]["credit"] is None and parts["rca_coverage"]["credit"] is None
    assert parts["root_causes"]["detail"] == "5 of 5 classes drilled as expected in the last quarter"
    status = json.loads(cli("status", "--json", store=store_url).stdout)
    assert [(r["model"], r["score"]) for r in status["readiness"]] == [("fraud", 100.0)]


def test_a_stale_runbook_or_a_failed_latest_drill_blocks_the_gate(project: Path, store_url: str) -> None:
    import_runs(project, store_url, fully_drilled(days=100))  # every drill of the quarter has aged out
    code, data = gate(store_url, "--min-score", "0")
    assert code == ExitStatus.DRILL_FAILED and data["passes"] is False
    assert any("stale runbook: canary-rollback (last as-expected drill" in b for b in data["blockers"])  # type: ignore[union-attr]
    assert data["score"] == 0.0
    import_runs(project, store_url, [*fully_drilled(), {"run_id": "bad", "started_at": ago(0.01),
                                                        "root_cause": "performance", "status": "failed",
                                                        "as_expected": False}])
    code, data = gate(store_url, "--min-score", "0")
    assert code == ExitStatus.DRILL_FAILED
    assert "its latest drill bad did not end as expected (failed)" in " ".join(data["blockers"])  # type: ignore[arg-type]


def test_the_score_falls_with_missing_classes_and_slow_rollbacks(project: Path, store_url: str) -> None:
    import_runs(project, store_url, [{"run_id": "only", "started_at": ago(1), "root_cause": "performance",
                                      "decision_to_completion_s": 1200}])
    code, data = gate(store_url)
    # freshness 25*1, classes 20*(1/5), completion 15*0 (20 min > 15), prior versions 15*0: 29/75
    assert data["score"] == pytest.approx(38.7) and code == ExitStatus.DRILL_FAILED
    table = cli("gate", "--model", "fraud", store=store_url)
    assert "fraud: not ready (score 38.7, minimum 70): score 38.7 is below 70" in table.output.replace("\n", " ")


def test_unknown_model_and_bad_minimum_are_bad_input(project: Path, store_url: str) -> None:
    import_runs(project, store_url, fully_drilled())
    assert cli("gate", "--model", "nosuch", store=store_url).exit_code == ExitStatus.BAD_INPUT
    assert cli("gate", "--model", "fraud", "--min-score", "101", store=store_url).exit_code == ExitStatus.BAD_INPUT


def test_readiness_in_openmetrics_passes_promtool(project: Path, store_url: str, promtool: str) -> None:
    import_runs(project, store_url, fully_drilled())
    text = cli("status", "--format", "openmetrics", store=store_url).stdout
    assert 'drill_readiness_score{model="fraud"} 100' in text
    assert 'drill_readiness_part_credit{model="fraud",part="prior_versions"} 1' in text
    check = subprocess.run([promtool, "check", "metrics"], input=text, text=True, capture_output=True, check=False)
    assert check.returncode == 0, check.stderr


def test_the_summary_report_shows_readiness_and_the_cause_key_signals(project: Path, store_url: str) -> None:
    import_runs(project, store_url, fully_drilled())
    events = project.parent / "prod.jsonl"
    events.write_text("".join(json.dumps({
        "type": "rollback", "model": "fraud", "from_version": v, "to_version": "1", "decided_at": at,
        "completed_at": at.replace(":00:00Z", ":05:00Z"), "trigger": "manual", "root_cause": "upstream-data",
        "cause_keys": ["schema-drift:age"]}) + "\n" for v, at in (("2", ago(20)), ("3", ago(10)))))
    assert cli("import", str(events), store=store_url).exit_code == 0
    out = project.parent / "out"
    result = cli("report", "--output", str(out), store=store_url)
    assert result.exit_code == 0, result.output
    summary = (out / "summary.md").read_text()
    assert "## Rollback readiness" in summary
    assert "| fraud | 88.2 | " in summary  # 75 of 85: RCA coverage 0 of 2 counts now
    assert "rca\\_coverage 0 % (0 of 2 rollbacks of six months with an RCA)" in summary
    assert "## Post-mortem signals" in summary
    assert ("Rollbacks whose cause key an earlier post-mortem had named (all unplanned rollbacks in the period): 1"
            in summary)
    assert "- schema-drift:age: #" in summary
    assert summary.count("Root causes") == 1
    assert "<h2>Rollback readiness</h2>" in (out / "summary.html").read_text()


def test_the_documented_decay_example(project: Path, store_url: str) -> None:
    """docs/programme.md: the fully drilled set run 60 days ago scores 73.3 (freshness, classes and prior
    versions at two thirds; decision -> completion does not decay): (60 * 2/3 + 15) / 75."""
    import_runs(project, store_url, fully_drilled(days=60))
    code, data = gate(store_url)
    assert data["score"] == 73.3 and code == ExitStatus.OK
    assert "the score is 73.3" in (Path(__file__).resolve().parents[2] / "docs" / "programme.md").read_text()
