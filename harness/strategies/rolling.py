"""``swarm-update``: the orchestrator rolls the stable slot to the candidate itself (Swarm's update_config),
watching health and maybe rolling back on its own; that decision is taken as the drill's."""

from __future__ import annotations

from dataclasses import dataclass

from harness.engine.events import Breach, Decided, Progress, now
from harness.engine.results import Evidence
from harness.errors import SpecError, SpecIssue
from harness.outcomes import Decision, Trigger, Verdict
from harness.ports import RollingBackend
from harness.strategies.base import StrategyRun


@dataclass(frozen=True)
class OrchestratorUpdate:
    kind: str = "swarm-update"
    needs_rolling_backend: bool = True

    def deploy(self, run: StrategyRun) -> bool:
        backend = run.ctx.backend
        if not isinstance(backend, RollingBackend):
            raise SpecError(SpecIssue(str(run.drill.drill_path), "strategy.kind",
                                      f"backend {backend.kind!r} has no rolling update of its own"))
        candidate = run.ctx.variables["candidate_version"]
        backend.rolling_update("stable", candidate)
        run.state.deployed_at = now()
        run.emit(Progress(f"rolling update: stable -> {candidate} by the orchestrator "
                          f"(failure action {run.drill.spec.strategy.failure_action})"))
        return True

    def analysis_judges(self, run: StrategyRun) -> bool:
        return run.drill.spec.strategy.detect_by != "orchestrator"  # the team's path may have no analysis of its own

    def orchestrator_decision(self, run: StrategyRun) -> Evidence | None:
        backend, state = run.ctx.backend, run.state
        if not isinstance(backend, RollingBackend):
            return None
        rollout = backend.rollout("stable")
        if not rollout.rolled_back_by_orchestrator:
            return None
        state.decide(Decision.ROLLBACK, Trigger.AUTOMATED, breach=True)
        state.evidence = (Evidence(f"{backend.kind}-update-monitor", f"update status {rollout.state}: {rollout.message}",
                                   Verdict.FAIL, 1.0, 0.0, None, 0, at=state.decision_at),)
        run.emit(Breach(state.evidence[0]))
        run.emit(Decided(Decision.ROLLBACK, Trigger.AUTOMATED, state.evidence))
        return state.evidence[0]

    def promote(self, run: StrategyRun) -> None:
        backend = run.ctx.backend
        assert isinstance(backend, RollingBackend)
        # A rolling update promotes by finishing: the stable slot itself runs the new version.
        backend.wait_converged("stable", 120.0, version=run.ctx.variables["candidate_version"])


SWARM_UPDATE = OrchestratorUpdate()
