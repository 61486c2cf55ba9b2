"""Whether a run ended as its drill expected: the one verdict CI gates on (exit code, JUnit, the summary).

A drill expects ``rollback`` (a bad version caught and rolled back, verified), ``promote`` (a good version
left alone) or ``fail`` (its way back sabotaged: the rollback must stop on the broken artifact). The
expectation comes from the drill's ``expect:``, else ``fail`` when it sets ``sabotage:``, never from its
name. A sabotage drill is as expected only if the rollback *reached* the sabotaged artifact: a runbook
that never reads the previous version would pass (or fail for some other reason) without ever testing
what the drill exists to test, so the registry is asked which artifacts it was made to read
(`ArtifactReads`), and the reason names the step that should have reached it. A drill that sets
``fails_with:`` is as expected only if its failure's reason says that text (the failure it exists to show).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from harness.engine.results import RunStatus, StepResult, StepStatus
from harness.ports import ArtifactReads as ArtifactReads  # the registry's side of this verdict
from harness.ports import ReadLog as ReadLog
from harness.spec.models import RunbookSpec

# Runbook actions that read a version's artifact (directly or by checking it is deployable).
READING_ACTIONS = ("registry.restore_previous", "registry.check_prior_versions", "service.start",
                   "service.restart")


@dataclass(frozen=True)
class Verdict:
    as_expected: bool
    note: str  # why not (empty when as expected)


def missed_sabotage(how: str, version: str, runbook: RunbookSpec, steps: Sequence[StepResult]) -> str:
    """The reason a sabotage was never reached, naming the step that should have reached it."""
    ran = {s.name: s for s in steps}
    reading = [step for step in runbook.steps if step.action in READING_ACTIONS]
    if not reading:
        return (f"the sabotage ({how} of version {version}'s artifact) was never reached: no step of runbook "
                f"{runbook.name} reads it (a registry.restore_previous step, which checks the artifact before "
                "moving the alias back, should have)")
    step = reading[0]
    done = ran.get(step.name)
    state = "did not run" if done is None else f"ended {done.status.value}" + (
        "" if done.status is not StepStatus.OK else " without reading it")
    return (f"the sabotage ({how} of version {version}'s artifact) was never reached: step {step.name} "
            f"({step.action}) should have reached it, but {state}")


def judge(expect: str, status: RunStatus, sabotage: str, reached: bool | None, missed: str,
          reason: str = "", fails_with: str | None = None) -> Verdict:
    """``reached``: whether the sabotaged artifact was read after the sabotage (None: no sabotage, or a
    registry that cannot tell); ``missed``: the reason to give when it was not. ``fails_with``: text a failed
    run's ``reason`` must contain (a drill that exists to show one failure is not as expected on another)."""
    if status is RunStatus.ABORTED:
        return Verdict(False, "a stop condition aborted the run" if reason.startswith("guard ") else "the run was interrupted")
    if status is RunStatus.ERROR:
        return Verdict(False, "the harness could not tell (an error, not a drill outcome)")
    if status is RunStatus.INCONCLUSIVE:  # no verdict without evidence: as expected for no drill
        wanted = {"promote": "a promotion", "fail": "a failure"}.get(expect, "a rollback")
        return Verdict(False, f"the judge never decided, but the drill expected {wanted}")
    if sabotage != "none" and reached is False:
        return Verdict(False, missed)
    if expect == "fail":
        if status is RunStatus.FAILED and fails_with is not None and fails_with not in reason:
            return Verdict(False, f"failed, but not as the drill expected: the reason does not say {fails_with!r}")
        if status is RunStatus.FAILED:
            return Verdict(True, "")
        return Verdict(False, "passed, but the drill expected a failure")
    if status is RunStatus.PASSED:
        return Verdict(True, "")
    return Verdict(False, f"{status.value}, but the drill expected a {'promotion' if expect == 'promote' else 'rollback'}")
