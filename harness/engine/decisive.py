"""No verdict without evidence: what a detection window that ran out decides, and why.

A candidate is promoted only on a look where every check passed (a decisive pass); a window that ends with
any check still inconclusive (too few samples, a query with no answer, a failure not yet confirmed by
``consecutive`` looks) ends the run *inconclusive*: neither promoted nor rolled back, the reason naming each
undecided check and its samples. Argo Rollouts pauses on an inconclusive analysis the same way. The engine's
own detection loop and the strategies that judge themselves (shadow, progressive) all end here.
"""

from __future__ import annotations

from collections.abc import Sequence

from harness.engine.results import Evidence, StageResult
from harness.outcomes import Decision, Expectation, Verdict


def last_look(evidence: Sequence[Evidence]) -> Verdict:
    """The last look's overall verdict; no evidence at all is no verdict (inconclusive)."""
    return Verdict.overall({e.verdict for e in evidence}) if evidence else Verdict.INCONCLUSIVE


def window_ran_out(evidence: Sequence[Evidence], expect: str, bake: float = 0.0) -> Decision:
    """The decision when ``max_wait`` ran out without a rollback, only on a decisive pass: promote (a drill
    expecting a promotion, or any drill with a ``bake:`` to watch on), else missed (the bad version passed)."""
    if last_look(evidence) is not Verdict.PASS:
        return Decision.INCONCLUSIVE
    return Decision.PROMOTE if expect == Expectation.PROMOTE or bake > 0 else Decision.MISSED


def _fmt(value: float | None, digits: int) -> str:
    return "none" if value is None else f"{value:.{digits}f}".rstrip("0").rstrip(".") if digits else f"{value:.0f}"


def describe(e: Evidence) -> str:
    """``errors inconclusive (samples 5 of min 20, value 0.4)``: one check at one look, for a reason line."""
    seen = "no samples" if e.samples is None else f"samples {_fmt(e.samples, 0)} of min {e.min_samples}"
    return f"{e.metric} {e.verdict} ({seen}, value {_fmt(e.canary_value, 4)})"


def undecided(evidence: Sequence[Evidence], max_wait: float, stages: Sequence[StageResult] = ()) -> str:
    """The reason of an inconclusive run: every check that was not a decisive pass at the last look, and the
    window that ran out (a staged strategy's last stage that ran, with its own budget; else ``max_wait``)."""
    open_checks = [describe(e) for e in evidence if e.verdict != Verdict.PASS]
    ran = [s for s in stages if s.decision != "not reached"]
    window = f"the {ran[-1].label} stage's {ran[-1].max_wait_s:g}s" if ran else f"{max_wait:g}s"
    return (f"inconclusive: no decisive look within {window}, neither promoted nor rolled back "
            f"(last look: {'; '.join(open_checks) or 'no evidence'})")
