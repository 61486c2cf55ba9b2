"""``late``: promote the candidate to 100 %, then scale the previous version to zero.

What a team's pipeline does once a release looks good: all traffic on the new version, and the old one
stopped (an autoscaler, a cost policy) some time later (``strategy.scale_to_zero_after``). When the
regression shows only then (a fault with ``after:``), the way back starts from nothing running: start the
old version from the registry, load its weights, wait until it is ready, and only then move the traffic
(the late-rollback runbook). The candidate is judged against the pre-deploy window, as after any 100 % switch.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from harness.engine.context import RunContext
from harness.engine.events import Progress
from harness.engine.results import Evidence
from harness.strategies.base import StrategyRun
from harness.strategies.split import TrafficSplit

_SWITCH = TrafficSplit("late", share_from_spec=False)


def scale_previous_to_zero(ctx: RunContext, after_s: float) -> str:
    """Stop the stable slot ``after_s`` seconds after the candidate took all the traffic; says what it did."""
    time.sleep(after_s)
    ctx.stop_slot("stable")
    return f"previous version {ctx.slot_versions.get('stable', '?')} scaled to zero {after_s:g}s after the promotion"


@dataclass(frozen=True)
class LateSwitch:
    kind: str = "late"
    needs_rolling_backend: bool = False

    def deploy(self, run: StrategyRun) -> bool:
        if not _SWITCH.deploy(run):
            return False
        run.emit(Progress(scale_previous_to_zero(run.ctx, run.drill.spec.strategy.scale_to_zero_after)))
        return True

    def analysis_judges(self, run: StrategyRun) -> bool:
        return True

    def orchestrator_decision(self, run: StrategyRun) -> Evidence | None:
        return None

    def promote(self, run: StrategyRun) -> None:
        _SWITCH.promote(run)


LATE = LateSwitch()
