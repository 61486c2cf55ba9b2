"""The run's vocabulary, defined once: statuses, decisions, triggers, verdicts, phases, expectations,
root-cause classes. ``StrEnum`` members compare equal to their values, so YAML, JSON and SQL keep plain
strings while the code holds enums.
"""

from __future__ import annotations

from enum import StrEnum


class RunStatus(StrEnum):
    """How a run ended. *error* (the harness could not tell) is kept apart from *failed* (the drill found a fault);
    *inconclusive*: the judge never decided within ``max_wait`` (no verdict without evidence: never a promotion)."""

    PASSED = "passed"
    INCONCLUSIVE = "inconclusive"
    FAILED = "failed"
    ERROR = "error"
    ABORTED = "aborted"

    def is_worse(self, other: RunStatus) -> bool:
        """Ordering for a summary: aborted > error > failed > inconclusive > passed."""
        order = (RunStatus.PASSED, RunStatus.INCONCLUSIVE, RunStatus.FAILED, RunStatus.ERROR, RunStatus.ABORTED)
        return order.index(self) > order.index(other)


class Decision(StrEnum):
    """What detection decided about the candidate."""

    ROLLBACK = "rollback"
    PROMOTE = "promote"
    MISSED = "missed"  # a bad version passed every check within the window: not detected
    HOLD = "hold"  # a person chose to hold
    INCONCLUSIVE = "inconclusive"  # the window ran out before every check was decisive: neither promoted nor rolled back


class Trigger(StrEnum):
    AUTOMATED = "automated"
    MANUAL = "manual"


class DecidedBy(StrEnum):
    """Who made a decision (or confirmed a manual step): a person, an answers file standing in for one in a
    rehearsal, or automation (the analysis, an orchestrator, or the escalation when nobody answered)."""

    PERSON = "person"
    ANSWERS_FILE = "answers-file"
    AUTOMATION = "automation"


class Verdict(StrEnum):
    """One check's (or all checks') verdict at one look, as Argo Rollouts' analysis phases."""

    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"

    def is_worse(self, other: Verdict) -> bool:
        order = (Verdict.PASS, Verdict.INCONCLUSIVE, Verdict.FAIL)
        return order.index(self) > order.index(other)

    @staticmethod
    def overall(verdicts: set[Verdict] | set[str]) -> Verdict:
        """Fail if any check fails, inconclusive if any cannot tell yet, else pass."""
        if Verdict.FAIL in verdicts:
            return Verdict.FAIL
        return Verdict.INCONCLUSIVE if Verdict.INCONCLUSIVE in verdicts else Verdict.PASS


class Phase(StrEnum):
    PREPARE = "prepare"
    BASELINE = "baseline"
    PREFLIGHT = "preflight"
    DEPLOY = "deploy"
    DETECT = "detect"
    ROLLBACK = "rollback"
    PROMOTE = "promote"
    BAKE = "bake"  # after a promotion: the old version warm, the judge still watching (drill's bake:)
    TEARDOWN = "teardown"


class Expectation(StrEnum):
    """What a drill expects of its run."""

    ROLLBACK = "rollback"  # a bad version detected and rolled back, verified
    PROMOTE = "promote"  # a good version promoted, nothing rolled back
    FAIL = "fail"  # a broken rollback path: the run must fail, naming what broke


class RootCause(StrEnum):
    """The standard's root-cause classes of a rollback."""

    PERFORMANCE = "performance"
    SAFETY = "safety"
    INFRASTRUCTURE = "infrastructure"
    UPSTREAM_DATA = "upstream-data"
    BUSINESS_RULE = "business-rule"
    OTHER = "other"
