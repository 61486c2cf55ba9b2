"""No verdict without evidence (issue 26, finding 1): a promotion needs a decisive pass of every check; a window
that runs out undecided ends the run *inconclusive*; a person's hold is never a promotion.

The engine over the fake target (tests/fakes.py), injected through ``Engine(make_target=...)``.
"""

from __future__ import annotations

import io
from pathlib import Path

from harness.cli.main import exit_status
from harness.engine.decisive import undecided, window_ran_out
from harness.engine.engine import Engine, RunOptions
from harness.engine.expectation import judge as expected
from harness.engine.human import HumanInput
from harness.engine.results import DrillResult, Evidence, RunStatus, StageResult
from harness.exit_codes import ExitStatus
from harness.listeners.recording import to_record
from harness.outcomes import Decision, Verdict
from harness.report.load import result_from_json
from harness.report.outcome import outcome
from harness.report.summary import _good
from harness.store import Store
from tests.engine.test_engine import drill
from tests.fakes import FakeTarget, factory


def run(target: FakeTarget, tmp_path: Path, options: RunOptions | None = None, **over: object) -> DrillResult:
    return Engine(make_target=factory(target)).run(drill(**over), options or RunOptions(report_root=tmp_path))


def test_a_control_whose_checks_never_decided_is_inconclusive_not_promoted(tmp_path: Path) -> None:
    """Finding 1 as reproduced: a candidate failing ~30 % of its requests, the error check short of its
    min_samples at every look; today's engine promoted it and the control drill passed."""
    target = FakeTarget(bad={"v3"})
    result = run(target, tmp_path, expect="promote", strategy={"kind": "canary", "weight": 5}, traffic={"rate": 20},
                 detection={"interval": "200ms", "max_wait": "2s",
                            "compare": [{"name": "errors", "measure": "error", "min_samples": 20}]})
    assert result.status is RunStatus.INCONCLUSIVE, result.reason
    assert result.decision == Decision.INCONCLUSIVE and not result.rolled_back
    assert "errors inconclusive (samples" in result.reason and "of min 20" in result.reason
    assert result.as_expected is False and outcome(result).label == "inconclusive"
    assert exit_status(result) is ExitStatus.DRILL_FAILED
    assert "stable" in target.backend.slots  # never promoted: a promotion stops the stable slot
    # The store keeps it and reads it back; report.json loads it; the summary paints it as not as expected.
    with Store.open(f"sqlite:///{tmp_path}/drill.db") as store:
        store.record_drill_run(to_record(result))
        assert [r.status for r in store.list_drill_runs()] == ["inconclusive"]
    assert result_from_json(result.to_json()).status is RunStatus.INCONCLUSIVE
    assert _good(f"inconclusive: {outcome(result).label}") == "no"


def test_a_good_control_with_decisive_looks_is_still_promoted(tmp_path: Path) -> None:
    result = run(FakeTarget(bad=set()), tmp_path, expect="promote",
                 detection={"interval": "100ms", "max_wait": "3s",
                            "compare": [{"name": "errors", "measure": "error", "min_samples": 20}]})
    assert result.status is RunStatus.PASSED and result.decision == Decision.PROMOTE, result.reason
    assert result.as_expected is True and result.serving_version_after == "v3"


def test_a_rollback_drill_that_never_decided_is_inconclusive_not_missed(tmp_path: Path) -> None:
    result = run(FakeTarget(bad={"v3"}), tmp_path, strategy={"kind": "canary", "weight": 5}, traffic={"rate": 20},
                 detection={"interval": "200ms", "max_wait": "2s",
                            "compare": [{"name": "errors", "measure": "error", "min_samples": 20}]})
    assert result.status is RunStatus.INCONCLUSIVE and result.as_expected is False, result.reason
    assert "the judge never decided, but the drill expected a rollback" in result.reason


def test_a_hold_is_never_reported_as_a_promotion_and_says_the_split_stays(tmp_path: Path) -> None:
    """Today: the analysis failed the candidate, a person held, and the control drill 'promoted' it, passed."""
    target = FakeTarget(bad={"v3"})
    human = HumanInput(io.StringIO("hold\n"), prompt=lambda text: None)
    result = run(target, tmp_path, RunOptions(report_root=tmp_path, manual=True, human=human), expect="promote")
    assert result.decision == Decision.HOLD and result.trigger == "manual"
    assert result.status is RunStatus.FAILED and result.as_expected is False, result.reason
    assert "promoted" not in result.reason.replace("neither promoted", "")
    assert "a person chose to hold" in result.reason and "kept 50 % of the traffic" in result.reason


def _look(verdict: Verdict, samples: float = 30.0) -> Evidence:
    return Evidence("errors", "client:error", verdict, 0.1, 100.0, samples, 20)


def test_the_window_decides_only_on_a_decisive_pass_of_every_check() -> None:
    assert window_ran_out([_look(Verdict.PASS)], "promote") is Decision.PROMOTE
    assert window_ran_out([_look(Verdict.PASS)], "rollback") is Decision.MISSED
    assert window_ran_out([_look(Verdict.PASS), _look(Verdict.INCONCLUSIVE, 5)], "promote") is Decision.INCONCLUSIVE
    assert window_ran_out([_look(Verdict.FAIL)], "promote") is Decision.INCONCLUSIVE  # short of `consecutive`
    assert window_ran_out([], "promote") is Decision.INCONCLUSIVE  # no evidence is no verdict
    assert undecided([_look(Verdict.PASS), _look(Verdict.INCONCLUSIVE, 5)], 8) == (
        "inconclusive: no decisive look within 8s, neither promoted nor rolled back "
        "(last look: errors inconclusive (samples 5 of min 20, value 0.1))")


def test_a_staged_run_names_the_budget_of_its_last_stage_that_ran() -> None:
    """A progressive drill's window is its stages' budgets, not detection.max_wait (which it does not use)."""
    stages = [StageResult("shadow", "shadow", 20.0, "pass"), StageResult("canary", "canary 50 %", 45.0, "pass"),
              StageResult("canary", "canary 100 %", 30.0, "not reached")]
    assert undecided([_look(Verdict.INCONCLUSIVE, 5)], 60, stages).startswith(
        "inconclusive: no decisive look within the canary 50 % stage's 45s, neither promoted nor rolled back")


def test_inconclusive_is_as_expected_for_no_drill() -> None:
    for expect in ("promote", "rollback", "fail"):
        assert expected(expect, RunStatus.INCONCLUSIVE, "none", None, "").as_expected is False
    assert RunStatus.INCONCLUSIVE.is_worse(RunStatus.PASSED) and RunStatus.FAILED.is_worse(RunStatus.INCONCLUSIVE)
