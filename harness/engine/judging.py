"""Closing a run: its status and reason judged from what the run learned, and the typed result record."""

from __future__ import annotations

from dataclasses import replace

from harness import targets
from harness.engine import decisive, expectation
from harness.engine.events import now
from harness.engine.results import DrillResult, RunStatus, Timestamps
from harness.engine.state import RunOptions, RunState
from harness.engine.verdict import summarise
from harness.errors import DrillError
from harness.outcomes import Decision, Expectation
from harness.ports import Target, Versions
from harness.spec.catalogue import LoadedDrill
from harness.traffic.generator import LoadGenerator, Sample


def judge(drill: LoadedDrill, state: RunState, versions: Versions) -> tuple[RunStatus, str]:
    spec = drill.spec
    if state.decision == Decision.INCONCLUSIVE:
        return RunStatus.INCONCLUSIVE, decisive.undecided(state.evidence, spec.detection.max_wait, state.stages)
    if state.decision == Decision.HOLD:
        split = "" if state.held_weight is None else f"; the candidate kept {state.held_weight} % of the traffic until teardown"
        return RunStatus.FAILED, ("the analysis failed the candidate and a person chose to hold: neither promoted "
                                  f"nor rolled back{split}")
    if spec.expect == Expectation.PROMOTE:
        if state.decision == Decision.ROLLBACK:
            return RunStatus.FAILED, "false rollback: a good version was rolled back" + (
                " (caught in bake, after its promotion)" if state.caught_in_bake else "") + _what_caught(state)
        if state.failure:
            return RunStatus.FAILED, state.failure
        if state.decision != Decision.PROMOTE:
            return RunStatus.FAILED, f"not promoted (decision {state.decision or 'none'})"
        return RunStatus.PASSED, f"good version {versions.candidate} promoted; nothing rolled back"
    if state.decision == Decision.PROMOTE:  # a bake watched it and found nothing
        return RunStatus.FAILED, (f"bad version not detected within {spec.detection.max_wait:g}s nor the "
                                  f"{spec.bake:g}s bake: promoted")
    if state.decision == Decision.MISSED:
        last = "; ".join(f"{e.metric} {e.verdict} (value {e.canary_value if e.canary_value is None else round(e.canary_value, 4)}, "
                         f"samples {e.samples if e.samples is None else round(e.samples, 1)})" for e in state.evidence)
        return RunStatus.FAILED, f"bad version not detected within {spec.detection.max_wait:g}s (last look: {last or 'no evidence'})"
    if state.failure:
        return RunStatus.FAILED, state.failure
    if state.serving_after != versions.stable:
        return RunStatus.FAILED, f"serving {state.serving_after} after rollback, expected {versions.stable}"
    assert state.decision_at is not None and state.completed_at is not None
    took = (state.completed_at - state.decision_at).total_seconds()
    if took > spec.time_target:
        return RunStatus.FAILED, f"decision to completion {took:.1f}s missed the {spec.time_target:g}s target"
    caught = state.caught_in
    where = "" if caught is None else (f"; caught in the {caught.label} stage, " + (
        "no client ever saw the candidate" if caught.kind == "shadow" and not caught.candidate_answers_served
        else f"after the candidate served {caught.candidate_answers_served} client answers"))
    if state.caught_in_bake and state.promoted_at is not None:
        where += f"; caught in bake, {(state.decision_at - state.promoted_at).total_seconds():.1f}s after the promotion"
    return RunStatus.PASSED, f"rolled back to {versions.stable} and verified in {took:.2f}s{where}"


def _what_caught(state: RunState) -> str:
    """What rolled a good version back, for the reason: the breached checks' headlines and the stage that caught it."""
    breached = "; ".join(e.headline for e in state.evidence if e.breached)
    stage = "" if state.caught_in is None else f" in the {state.caught_in.label} stage"
    return f"{stage} by {breached}" if breached else stage


def build_result(drill: LoadedDrill, options: RunOptions, run_id: str, state: RunState, status: RunStatus,
            reason: str, samples: list[Sample], target: Target | None,
            load: LoadGenerator | None = None) -> DrillResult:
    spec = drill.spec
    versions = state.versions
    stamps = Timestamps(state.started_at, state.deployed_at, state.first_breach_at, state.decision_at,
                        state.rollback_started_at, state.completed_at, now(), state.alerted_at)
    result = DrillResult(
        run_id=run_id, drill=spec.name, profile=options.profile, status=status, reason=reason,
        trigger=state.trigger, decision=state.decision, decided_by=state.decided_by, decider=state.decider,
        root_cause=spec.root_cause, model=spec.model,
        stable_version=versions.stable if versions else "?", candidate_version=versions.candidate if versions else "?",
        rolled_back=state.decision == Decision.ROLLBACK and state.completed_at is not None,
        timestamps=stamps, target_s=spec.time_target, steps=state.steps, phases=tuple(state.phases),
        traffic=replace(summarise(samples, rollback_started=state.rollback_started_at.timestamp() if state.rollback_started_at else None,
                                  completed=state.completed_at.timestamp() if state.completed_at else None,
                                  baseline_error_rate=state.baseline_error_rate,
                                  candidate=versions.candidate if versions else None, phases=state.phases,
                                  slo_s=spec.traffic.slo, requested_rps=spec.traffic.held_rate,
                                  offered=load.offered_between if load is not None else None),
                        shadow=state.shadow) if samples else None,
        serving_version_after=state.serving_after, evidence=state.evidence, images_source=state.images_source,
        evidence_trace=tuple(state.trace),
        report_dir=str(options.report_root / run_id),
        expect=spec.expected,  # from expect:, else fail when the drill sabotages its way back; never its name
        target=target.name if target is not None else targets.target_kind(drill),
        backend=target.backend.kind if target is not None and started(target) else (options.backend or "docker"),
        replicas=target.backend.replicas() if target is not None and started(target) else None,
        sabotage_reached=state.sabotage_reached,
        replicas_by_node=_by_node(target),
        replicas_by_node_before=_by_node(target, "replicas_by_node_before"),
        stages=state.stages,
    )
    missed = expectation.missed_sabotage(spec.sabotage, versions.stable if versions else "?", drill.runbook, state.steps)
    verdict = expectation.judge(spec.expected, status, spec.sabotage, state.sabotage_reached, missed, reason, spec.fails_with)
    if not verdict.as_expected and verdict.note and verdict.note not in reason:
        result = replace(result, reason=f"{reason}; not as expected: {verdict.note}")
    return replace(result, as_expected=verdict.as_expected)


def _by_node(target: Target | None, which: str = "replicas_by_node") -> dict[str, dict[str, int]] | None:
    """Where the replicas ran, from a backend that spreads them over nodes (a multi-node swarm); ``which``:
    ``replicas_by_node_before`` for where they ran just before a drill lost a node."""
    placed = getattr(target.backend, which, None) if target is not None and started(target) else None
    return placed() if callable(placed) else None


def started(target: Target) -> bool:
    try:
        target.backend  # noqa: B018 - a target's parts exist once it is prepared
    except DrillError:
        return False
    return True

