"""The bake period (issue 26): after a promotion the old version stays warm and the judge keeps watching for
``bake:``; a regression found then is rolled back and reported as caught in bake. The engine over the fake
target, whose candidate here starts failing only after it has served for a while (``errors-after-S``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.engine.engine import Engine, RunOptions
from harness.engine.results import DrillResult, RunStatus
from harness.errors import SpecError
from harness.spec.catalogue import LoadedDrill
from harness.spec.models import DrillSpec
from tests.engine.test_engine import drill
from tests.engine.test_verdict_matrix import BACK
from tests.fakes import FakeTarget, factory

# Long enough for a decisive pass of the error check (a promotion needs one), with room on a busy machine.
DETECTION = {"interval": "100ms", "max_wait": "8s", "compare": [{"name": "errors", "measure": "error"}]}


def _run(target: FakeTarget, tmp_path: Path, **over: object) -> tuple[DrillResult, list[str]]:
    d = drill(detection=DETECTION, **over)
    d = LoadedDrill(d.spec, BACK, d.drill_path, d.runbook_path)
    result = Engine(make_target=factory(target)).run(d, RunOptions(report_root=tmp_path))
    return result, [p.name for p in result.phases]


def test_a_regression_after_the_promotion_is_caught_in_bake_and_rolled_back(tmp_path: Path) -> None:
    target = FakeTarget(bad=set(), behaviour={"v3": "errors-after-11"})
    result, phases = _run(target, tmp_path, bake="10s")
    assert result.status is RunStatus.PASSED and result.as_expected is True, result.reason
    assert "caught in bake" in result.reason and result.decision == "rollback"
    assert phases[phases.index("detect"):] == ["detect", "promote", "bake", "rollback", "teardown"]
    assert result.serving_version_after == "v2" and result.rolled_back


def test_without_a_bake_the_same_regression_is_missed(tmp_path: Path) -> None:
    result, phases = _run(FakeTarget(bad=set(), behaviour={"v3": "errors-after-11"}), tmp_path)
    assert result.status is RunStatus.FAILED and result.decision == "missed"
    assert "bake" not in phases


def test_a_good_control_bakes_with_the_old_version_warm_then_stops_it(tmp_path: Path) -> None:
    target = FakeTarget(bad=set())
    seen: list[bool] = []

    class Warm:
        def on_event(self, event: object) -> None:
            if type(event).__name__ == "PhaseStarted" and getattr(event, "phase", "") == "bake":
                seen.append(target.backend.running("stable"))

    d = drill(detection=DETECTION, expect="promote", bake="1s")
    d = LoadedDrill(d.spec, BACK, d.drill_path, d.runbook_path)
    result = Engine([Warm()], make_target=factory(target)).run(d, RunOptions(report_root=tmp_path))
    assert result.status is RunStatus.PASSED and result.decision == "promote", result.reason
    assert seen == [True] and not target.backend.running("stable")  # warm during the bake, stopped after it
    assert "bake" in [p.name for p in result.phases] and result.serving_version_after == "v3"


def test_a_bake_needs_an_old_version_left_warm() -> None:
    spec = drill().spec.model_dump(exclude_defaults=True)
    with pytest.raises((SpecError, ValueError), match="nothing stays warm"):
        DrillSpec.model_validate({**spec, "strategy": {"kind": "late"}, "bake": "1m"})
