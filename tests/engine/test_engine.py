"""The engine over a fake target (tests/fakes.py): the phase machine, listener isolation, blame, interrupts.

No Docker: the fake target's router is a real HTTP server in this process, injected through
``Engine(make_target=...)``.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from harness.engine.engine import Engine, RunInterrupted, RunOptions
from harness.engine.events import Event, Listener, PhaseStarted, RunFinished, StepStarted
from harness.engine.results import DrillResult, RunStatus
from harness.errors import BackendUnavailable, SpecError, SpecIssue
from harness.spec.catalogue import LoadedDrill
from harness.spec.models import DrillSpec, RunbookSpec
from tests.fakes import FakeTarget, factory

RUNBOOK = RunbookSpec.model_validate({"name": "rb", "steps": [
    {"name": "drain", "action": "router.drain", "params": {"server": "candidate", "settle": "100ms"}},
    {"name": "restore", "action": "registry.restore_previous"},
    {"name": "stop", "action": "service.stop", "params": {"service": "candidate"}},
    {"name": "verify", "action": "verify.http", "params": {"requests": 10, "expect_version": "${stable_version}"},
     "verify": True},
]})


def drill(**over: object) -> LoadedDrill:
    spec = {
        "name": "fake-drill", "root_cause": "performance", "runbook": "rb",
        "fault": {"kind": "error_slice", "feature": "x0", "above": 0.5},
        "strategy": {"kind": "canary", "weight": 50},
        "traffic": {"rate": 100},
        "detection": {"interval": "100ms", "max_wait": "8s",
                      "compare": [{"name": "errors", "measure": "error", "min_samples": 20}]},
        "profiles": {"ci": {"baseline": "500ms"}},
    }
    spec.update(over)
    return LoadedDrill(DrillSpec.model_validate(spec), RUNBOOK, Path("fake-drill.yaml"), Path("rb.yaml"))


class Recorder:
    def __init__(self) -> None:
        self.events: list[Event] = []

    def on_event(self, event: Event) -> None:
        self.events.append(event)


class Exploding:
    """A listener that fails on every event, like a console whose terminal went away."""

    def on_event(self, event: Event) -> None:
        raise BrokenPipeError(32, "Broken pipe")


def run(target: FakeTarget, d: LoadedDrill, *listeners: Listener, tmp_path: Path) -> tuple[DrillResult, Recorder]:
    rec = Recorder()
    engine = Engine([*listeners, rec], make_target=factory(target))
    result = engine.run(d, RunOptions(report_root=tmp_path))
    return result, rec


def test_a_bad_canary_is_rolled_back_through_the_seams(tmp_path: Path) -> None:
    target = FakeTarget()
    result, _rec = run(target, drill(), tmp_path=tmp_path)
    assert result.status is RunStatus.PASSED, result.reason
    assert result.serving_version_after == "v2" and result.rolled_back
    assert target.registry.aliases()["champion"] == "v2"
    assert [e.to_version for e in target.registry.rollbacks] == ["v2"]  # the registry was told
    assert target.closed == 1 and "candidate" not in target.backend.slots
    assert result.target == "fake" and result.backend == "fake"


def test_a_failing_listener_loses_nothing(tmp_path: Path) -> None:
    target = FakeTarget()
    result, rec = run(target, drill(), Exploding(), tmp_path=tmp_path)
    assert result.status is RunStatus.PASSED
    assert any(isinstance(e, RunFinished) for e in rec.events)  # the listeners after it still heard everything
    assert target.closed == 1


def test_a_dead_router_is_an_error_naming_it_not_a_missed_detection(tmp_path: Path) -> None:
    target = FakeTarget(bad=set())  # nothing to detect: a naive engine would say "not detected"

    class KillRouter(Recorder):
        def on_event(self, event: Event) -> None:
            if isinstance(event, PhaseStarted) and event.phase == "detect":
                target.router.alive = False

    result, _ = run(target, drill(), KillRouter(), tmp_path=tmp_path)
    assert result.status is RunStatus.ERROR, result.reason
    assert "router" in result.reason and "not detected" not in result.reason
    assert target.closed == 1


def test_ctrl_c_mid_run_tears_down_records_and_a_second_one_cannot_skip_teardown(tmp_path: Path) -> None:
    target = FakeTarget(close_interrupts=1)

    class CtrlC(Recorder):
        def on_event(self, event: Event) -> None:
            super().on_event(event)
            if isinstance(event, StepStarted):
                raise KeyboardInterrupt

    rec = CtrlC()
    # A listener's KeyboardInterrupt is not an Exception: it reaches the engine as a real Ctrl-C would.
    with pytest.raises(RunInterrupted) as info:
        Engine([rec], make_target=factory(target)).run(drill(), RunOptions(report_root=tmp_path))
    assert info.value.result.status is RunStatus.ABORTED
    assert target.close_calls == 2 and target.closed == 1  # teardown ran to the end
    assert any(isinstance(e, RunFinished) for e in rec.events)


def test_a_candidate_that_never_starts_is_detected_by_readiness(tmp_path: Path) -> None:
    target = FakeTarget(crash={"v3"})
    result, _ = run(target, drill(), tmp_path=tmp_path)
    assert result.decision == "rollback" and result.evidence[0].metric == "candidate-readiness"


def test_a_broken_way_back_fails_naming_the_version(tmp_path: Path) -> None:
    target = FakeTarget(broken={"v2"})
    result, _ = run(target, drill(name="fake-broken-path", sabotage="corrupt-previous"), tmp_path=tmp_path)
    assert result.status is RunStatus.FAILED and "fraud/v2: artifact corrupt" in result.reason
    assert target.sabotaged == ["corrupt-previous"] and result.expect == "fail"
    assert result.as_expected is True and result.sabotage_reached is True


def test_a_sabotage_the_rollback_never_reached_is_not_as_expected_and_names_the_step(tmp_path: Path) -> None:
    """The new user's case: the runbook drains, stops and verifies, never reading the previous artifact."""
    silent = RunbookSpec.model_validate({"name": "drain-only", "steps": [s for s in RUNBOOK.model_dump()["steps"]
                                                                          if s["name"] != "restore"]})
    d = drill(sabotage="missing-previous")
    d = LoadedDrill(d.spec, silent, d.drill_path, d.runbook_path)
    result, _ = run(FakeTarget(), d, tmp_path=tmp_path)
    assert result.status is RunStatus.PASSED and result.expect == "fail"
    assert result.as_expected is False and result.sabotage_reached is False
    assert "sabotage (missing-previous of version v2's artifact) was never reached" in result.reason
    assert "no step of runbook drain-only reads it" in result.reason and "registry.restore_previous" in result.reason


def test_a_drill_named_broken_expects_what_it_says_not_what_its_name_says(tmp_path: Path) -> None:
    result, _ = run(FakeTarget(), drill(name="broken-looking-name"), tmp_path=tmp_path)
    assert result.expect == "rollback" and result.status is RunStatus.PASSED and result.as_expected is True


def test_teardown_runs_when_the_engine_is_driven_from_another_thread(tmp_path: Path) -> None:
    target = FakeTarget()
    out: list[DrillResult] = []
    t = threading.Thread(target=lambda: out.append(run(target, drill(), tmp_path=tmp_path)[0]))
    t.start()
    t.join(60)
    assert out and target.closed == 1


@pytest.mark.parametrize("error", [SpecError(SpecIssue("d.yaml", "target.kind", "late check")),
                                   BackendUnavailable("no engine")])
def test_a_run_that_started_is_recorded_even_when_bad_input_or_the_environment_stops_it(
        tmp_path: Path, error: Exception) -> None:
    target = FakeTarget(prepare_raises=error)
    rec = Recorder()
    with pytest.raises(type(error)):
        Engine([rec], make_target=factory(target)).run(drill(), RunOptions(report_root=tmp_path))
    finished = [e for e in rec.events if isinstance(e, RunFinished)]
    assert len(finished) == 1 and finished[0].result.status is RunStatus.ERROR
    assert target.closed == 1
