"""The bake period after a promotion (SageMaker's baking period, Argo Rollouts' post-promotion analysis).

With ``bake: 10m`` in a drill, a promoted candidate serves every client while the old version stays warm
behind the router at weight 0 and the judge keeps looking, comparing the candidate's answers since the
promotion with the stable's before it (as after any 100 % switch). A regression found then switches the
traffic straight back to the warm old version and the engine runs the drill's runbook, as for any rollback;
the run says it was caught in bake. When the bake ends clean, the old version is stopped. The bake is a
second analysis at the drill's alpha (a union bound: a good version is rolled back with probability at most
2 alpha over detection and bake).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from harness.engine.context import RunContext
from harness.engine.events import Breach, Decided, Event, Progress, now
from harness.engine.state import RunState
from harness.judge import analysis
from harness.outcomes import Decision, Trigger, Verdict
from harness.spec.catalogue import LoadedDrill

PAIRED_ONLY = ("disagreement",)  # a shadow's paired check: no second stable instance once promoted


def watch(ctx: RunContext, drill: LoadedDrill, state: RunState, emit: Callable[[Event], None]) -> bool:
    """Watch the promoted candidate for the drill's ``bake``; True when a regression was caught (the traffic is
    then back on the warm old version and the decision is a rollback), False when the bake ended clean (the
    old version is then stopped)."""
    det, spec = drill.spec.detection, drill.spec
    stable, candidate = ctx.variables["stable_version"], ctx.variables["candidate_version"]
    since = (state.promoted_at or now()).timestamp()
    compares = [c for c in det.compare if c.measure not in PAIRED_ONLY]
    emit(Progress(f"bake: {candidate} serves everyone for {spec.bake:g}s; {stable} stays warm at weight 0"))
    deadline, streak = time.monotonic() + spec.bake, 0
    while (left := deadline - time.monotonic()) > 0:
        time.sleep(min(det.interval, left))
        split = analysis.split_samples(ctx.load.samples(), since, stable, candidate, 100)
        verdict = analysis.judge(ctx.prometheus, det.metrics, compares, split, det.alpha)
        state.evidence = verdict.evidence
        state.trace.extend(analysis.trace_points(verdict.evidence, time.time() - since))
        streak = streak + 1 if verdict.verdict == Verdict.FAIL else 0
        if streak >= det.consecutive:
            ctx.route(stable=100, candidate=0)  # the old version is warm: every client back on it at once
            state.decide(Decision.ROLLBACK, Trigger.AUTOMATED, breach=True)
            state.caught_in_bake = True
            emit(Breach(next((e for e in verdict.evidence if e.breached), verdict.evidence[0])))
            emit(Decided(Decision.ROLLBACK, Trigger.AUTOMATED, verdict.evidence))
            return True
    ctx.stop_slot("stable")
    emit(Progress(f"bake: nothing found in {spec.bake:g}s; {stable} stopped"))
    return False
