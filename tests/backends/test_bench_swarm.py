"""benchmarks/bench_swarm.py's drill variants and client-side figures, so the README's table rests on checked parts."""

from __future__ import annotations

import importlib.util
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType

import pytest

from harness.engine.results import DrillResult, Evidence, RunStatus, TimelinePoint, Timestamps, TrafficSummary

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_swarm", ROOT / "benchmarks" / "bench_swarm.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_swarm"] = module
    spec.loader.exec_module(module)
    return module


def test_every_row_runs_the_same_bad_versions_on_swarm(bench: ModuleType) -> None:
    faults = set()
    for row in bench.ROWS:
        drill = bench.drill_for(row, 42.0)
        assert drill.spec.backend == "swarm" and drill.spec.detection.max_wait == 42.0
        faults.add(drill.spec.fault.kind)
        if row.path.startswith("Swarm native"):
            assert drill.spec.strategy.kind == "swarm-update" and drill.spec.strategy.detect_by == "orchestrator"
    assert faults == {"crash", "error_slice"}
    assert {r.bad_version for r in bench.ROWS} == {"crash on load", "5xx on 30 %, healthy"}


def _result(completed: bool) -> DrillResult:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    stamps = Timestamps(started_at=t0, deployed_at=t0 + timedelta(seconds=10), decision_at=t0 + timedelta(seconds=14),
                        completed_at=t0 + timedelta(seconds=16) if completed else None, ended_at=t0 + timedelta(seconds=30))
    timeline = (
        TimelinePoint(8.0, {"v2": 50}, {"v2": 1}, 0),  # before the deploy: not counted
        TimelinePoint(10.0, {"v2": 40, "v3": 10}, {"v3": 3}, 100),
        TimelinePoint(13.0, {"v2": 45, "v3": 5}, {"v3": 2}, 100),
        TimelinePoint(20.0, {"v2": 50, "v3": 4}, {"v3": 4}, 100),  # after the restore: counted only if never restored
    )
    return DrillResult(
        run_id="r", drill="d", profile="ci", status=RunStatus.PASSED if completed else RunStatus.FAILED, reason="",
        trigger="automated", decision="rollback" if completed else "missed", root_cause="performance", model="fraud",
        stable_version="v2", candidate_version="v3", rolled_back=completed, timestamps=stamps, target_s=900, steps=(),
        phases=(), traffic=TrafficSummary(300, 10, 0, 9, 0.0, 0.0), serving_version_after="v2",
        evidence=(Evidence("swarm-update-monitor", "q", "fail", 1.0, 0.0, None, 0),), timeline=timeline)


def test_figures_count_from_the_deploy_to_the_restore(bench: ModuleType) -> None:
    restored = bench.figures(_result(completed=True))
    assert restored["failed_requests_deploy_to_restore"] == 5 and restored["bad_version_answers"] == 15
    assert restored["deploy_to_last_bad_answer_s"] == 4.0 and restored["deploy_to_restored_s"] == 6.0
    assert restored["decided_by"] == "Swarm (update monitor)"
    never = bench.figures(_result(completed=False))
    assert never["failed_requests_deploy_to_restore"] == 9 and never["deploy_to_restored_s"] is None
    assert never["deploy_to_last_bad_answer_s"] == 11.0 and never["decided_by"] == "nobody"
    table = bench.table([(bench.ROWS[3], never)], 60.0)
    assert "never (≥ 60 s watched)" in table and "| 9 |" in table
