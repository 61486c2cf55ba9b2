"""``progressive``: chained stages, each judged on its own, then the promotion (Argo Rollouts' steps, judged).

    strategy:
      kind: progressive
      stages:
        - {kind: shadow, max_wait: 20s}              # the paired judge on copies: no client sees the candidate
        - {kind: canary, weight: 10, max_wait: 30s}  # 10 % of the clients: detection.metrics and detection.compare

A **shadow** stage (first only) is ``harness.strategies.shadow.run_shadow``: the candidate gets a copy of every
request and the paired judge decides; a regression caught there was never served to anyone. A **canary** stage
puts the candidate behind the router at its weight and judges it with the drill's usual detection (PromQL
checks and client-side compare checks, ``harness.judge.analysis``) for its ``max_wait``. The first stage that
catches the candidate decides the rollback (the drill's runbook follows); one that catches nothing within its
budget hands over to the next; after the last the candidate is promoted. The drill's alpha is split evenly over
the stages (a union bound), so a good candidate is rolled back with probability at most alpha over the chain.
Each stage's record (kind, started, decided, decision, evidence, client answers the candidate served) goes to
``report.json``'s ``stages``. Stages decide automatically, as a shadow stage does.
"""

from __future__ import annotations

import textwrap
import time
from dataclasses import dataclass
from datetime import datetime

from harness.engine import decisive
from harness.engine.events import Breach, Decided, Progress, now
from harness.engine.results import Evidence, StageResult
from harness.judge import analysis
from harness.outcomes import Decision, Trigger, Verdict
from harness.ports import ServiceFailed
from harness.spec.models import StrategyStage
from harness.strategies.base import StrategyRun
from harness.strategies.shadow import attach_candidate, require_tee, run_shadow

PAIRED_ONLY = ("disagreement",)  # judged in shadow only: a canary stage has no second stable instance


@dataclass(frozen=True)
class StageOutcome:
    record: StageResult
    caught: bool
    decided_at: datetime | None = None
    evidence: tuple[Evidence, ...] = ()


def served_by_candidate(run: StrategyRun, since: float) -> int:
    """Client answers the candidate served since ``since`` (epoch seconds): the load generator's own count."""
    candidate = run.ctx.variables["candidate_version"]
    return sum(s.version == candidate for s in run.ctx.load.samples() if s.at >= since)


def _readiness_failed(run: StrategyRun, stage: StrategyStage, started: datetime, exc: ServiceFailed) -> StageOutcome:
    run.emit(Progress(f"candidate never became ready: {textwrap.shorten(str(exc), 200, placeholder=' …')}"))
    evidence = (Evidence("candidate-readiness", "container readiness", Verdict.FAIL, None, 0.0, None, 0, at=now()),)
    record = StageResult(stage.kind, stage.label, stage.max_wait, "rollback", started, now(), stage.weight, 0,
                         "the candidate never became ready", tuple(e.headline for e in evidence))
    return StageOutcome(record, True, record.decided_at, evidence)


def canary_stage(run: StrategyRun, stage: StrategyStage, alpha: float) -> StageOutcome:
    """The candidate at ``stage.weight`` % of the clients, judged by the drill's metrics and client-side compare checks."""
    ctx, state, det = run.ctx, run.state, run.drill.spec.detection
    stable, candidate = ctx.variables["stable_version"], ctx.variables["candidate_version"]
    weight = stage.weight or 0
    started = now()
    if "candidate" not in ctx.slot_versions:  # not behind the router yet
        try:
            if ctx.backend.running("candidate"):
                attach_candidate(run)  # a shadow stage left it running, never routed
            else:
                ctx.start_slot("candidate", candidate)  # at weight 0 until its health check passes
        except ServiceFailed as exc:  # a crash-looping model never serves: its readiness is the detection
            return _readiness_failed(run, stage, started, exc)
    ctx.route(candidate=weight, stable=100 - weight)
    since, routed_at = time.time(), now()
    state.deployed_at = state.deployed_at or routed_at
    run.emit(Progress(f"progressive: canary stage, {candidate} at {weight} % for up to {stage.max_wait:g} s"))
    compares = [c for c in det.compare if c.measure not in PAIRED_ONLY]
    streak = 0
    evidence: tuple[Evidence, ...] = ()
    deadline = time.monotonic() + stage.max_wait
    while (left := deadline - time.monotonic()) > 0:
        ctx.pause(min(det.interval, left))
        split = analysis.split_samples(ctx.load.samples(), since, stable, candidate, weight)
        verdict = analysis.judge(ctx.prometheus, det.metrics, compares, split, alpha)
        evidence = verdict.evidence
        state.trace.extend(analysis.trace_points(evidence, (now() - state.deployed_at).total_seconds()))
        if verdict.breached and state.first_breach_at is None:
            state.first_breach_at = now()
            run.emit(Breach(next(e for e in evidence if e.breached)))
        streak = streak + 1 if verdict.verdict == Verdict.FAIL else 0
        if streak >= det.consecutive:
            break
    caught = streak >= det.consecutive
    decided_at = now()
    served = served_by_candidate(run, since)
    failed = ", ".join(e.metric for e in evidence if e.breached)
    took = (decided_at - routed_at).total_seconds()
    summary = (f"caught at {weight} % ({failed}) after {took:.1f} s; the candidate served {served} client answers" if caught
               else f"no check failed in {took:.1f} s at {weight} % ({served} client answers by the candidate)")
    run.emit(Progress(f"progressive: {summary}"))
    record = StageResult(stage.kind, stage.label, stage.max_wait, "rollback" if caught else "pass", routed_at, decided_at,
                         weight, served, summary, tuple(e.headline for e in evidence))
    return StageOutcome(record, caught, decided_at, evidence)


def shadow_stage(run: StrategyRun, stage: StrategyStage, alpha: float) -> StageOutcome:
    out, record = run_shadow(run, stage.max_wait, alpha)
    caught = out.decision == "rollback"
    if caught:
        run.emit(Breach(next(e for e in run.state.evidence if e.breached)))
    return StageOutcome(record, caught, out.decided_at, run.state.evidence)


def not_reached(stage: StrategyStage) -> StageResult:
    return StageResult(stage.kind, stage.label, stage.max_wait, "not reached")


@dataclass(frozen=True)
class Progressive:
    kind: str = "progressive"
    needs_rolling_backend: bool = False

    def deploy(self, run: StrategyRun) -> bool:
        stages = run.drill.spec.strategy.stages
        if any(s.kind == "shadow" for s in stages):
            require_tee(run)
        chain = " -> ".join(f"{s.label} ({s.max_wait:g} s)" for s in stages)
        run.emit(Progress(f"progressive: {chain} -> promote"))
        return True

    def analysis_judges(self, run: StrategyRun) -> bool:
        return False  # each stage judges itself, in orchestrator_decision

    def orchestrator_decision(self, run: StrategyRun) -> Evidence | None:
        state, spec = run.state, run.drill.spec
        stages = spec.strategy.stages
        alpha = spec.detection.alpha / len(stages)  # one alpha per drill, split over its stages
        done: list[StageResult] = []
        for i, stage in enumerate(stages):
            state.stages = (*done, *(not_reached(s) for s in stages[i:]))
            out = (shadow_stage if stage.kind == "shadow" else canary_stage)(run, stage, alpha)
            done.append(out.record)
            state.stages = (*done, *(not_reached(s) for s in stages[i + 1:]))
            state.evidence = out.evidence
            if out.caught:
                state.decide(Decision.ROLLBACK, Trigger.AUTOMATED, breach=True)
                decided = state.decision_at = out.decided_at or now()  # the look that decided, not the cleanup
                if state.first_breach_at is None or state.first_breach_at > decided:
                    state.first_breach_at = decided
                run.emit(Decided(Decision.ROLLBACK, Trigger.AUTOMATED, state.evidence))
                return next((e for e in state.evidence if e.breached), state.evidence[0])
        decision = decisive.window_ran_out(state.evidence, spec.expected, spec.bake)  # the last stage's last look: all decisive passes
        state.decide(decision, Trigger.AUTOMATED if decision is Decision.PROMOTE else None)
        if decision is Decision.PROMOTE:
            state.decision_at = done[-1].decided_at or state.decision_at  # the last stage's end, not its cleanup
        run.emit(Decided(state.decision or Decision.MISSED, Trigger.AUTOMATED, state.evidence))
        return state.evidence[0] if state.evidence else Evidence("progressive", "stages", Verdict.INCONCLUSIVE, None, 0.0, None, 0)

    def promote(self, run: StrategyRun) -> None:
        ctx = run.ctx
        if "candidate" not in ctx.slot_versions:  # shadow was the only stage: first time behind the router
            attach_candidate(run)
        ctx.route(candidate=100, stable=0)
        if not run.drill.spec.bake:  # baking: the old version stays warm until the bake ends (harness.engine.bake)
            ctx.stop_slot("stable")


PROGRESSIVE = Progressive()
