"""Traffic split by the router's weights: the candidate starts beside the stable version (at weight 0 until
its health check passes), then gets its share; promotion moves all traffic and stops the stable slot.
``canary`` gives it the drill's ``strategy.weight``; ``blue-green`` switches 100 % at once."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

from harness.engine.events import Decided, Progress, now
from harness.engine.results import Evidence
from harness.outcomes import Decision, Trigger, Verdict
from harness.ports import ServiceFailed
from harness.strategies.base import StrategyRun


@dataclass(frozen=True)
class TrafficSplit:
    kind: str
    share_from_spec: bool  # canary: strategy.weight; otherwise all traffic at once
    needs_rolling_backend: bool = False

    def weight(self, run: StrategyRun) -> int:
        return run.drill.spec.strategy.weight if self.share_from_spec else 100

    def deploy(self, run: StrategyRun) -> bool:
        ctx, state = run.ctx, run.state
        candidate = ctx.variables["candidate_version"]
        rollout_started = now()
        share = self.weight(run)
        try:
            ctx.start_slot("candidate", candidate)  # at weight 0 until the health check passes
        except ServiceFailed as exc:
            # A crash-looping model never serves: the readiness failure is the (automated) detection.
            state.deployed_at = rollout_started
            state.decide(Decision.ROLLBACK, Trigger.AUTOMATED, breach=True)
            state.evidence = (Evidence("candidate-readiness", "container readiness", Verdict.FAIL, None, 0.0, None, 0,
                                       at=state.decision_at),)
            run.emit(Progress(f"candidate never became ready: {textwrap.shorten(str(exc), 200, placeholder=' …')}"))
            run.emit(Decided(Decision.ROLLBACK, Trigger.AUTOMATED, state.evidence))
            return False
        ctx.route(candidate=share, stable=100 - share)
        state.deployed_at = now()
        run.emit(Progress(f"{self.kind}: candidate {candidate} at {share}%"))
        return True

    def analysis_judges(self, run: StrategyRun) -> bool:
        return True

    def orchestrator_decision(self, run: StrategyRun) -> Evidence | None:
        return None

    def promote(self, run: StrategyRun) -> None:
        run.ctx.route(candidate=100, stable=0)
        if not run.drill.spec.bake:  # baking: the old version stays warm until the bake ends (harness.engine.bake)
            run.ctx.stop_slot("stable")
