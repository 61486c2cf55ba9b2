"""A shadow stage: the stable serves every client, the candidate gets copies through the tee, the paired
judge decides. The candidate is started but never attached to the router, so no client can be answered
by it; a regression caught here is caught before anyone saw the candidate.

The stage drives a target only through seams: the backend starts the candidate (and, where it can, a
second stable instance: the noise floor for unlabelled traffic), the router points its stable slot at the
tee and back, and a ``TeeRunner`` starts the tee (``harness.stack.tee.TeeContainer`` on Docker; an
in-process ``harness.serving.tee_proxy.Tee`` in a unit test). The records come back through 127.0.0.1
(``harness.judge.tee_records``). ``SHADOW`` is the strategy (``strategy: {kind: shadow}``): the stage runs
in the detect phase and its decision is the drill's, as an orchestrator's is. ``run_shadow`` is the stage as
a strategy runs it, alone or as the first stage of ``strategy: {kind: progressive}``
(``harness.strategies.progressive``). When the drill's compare list has ``measure: disagreement``, a second
stable instance (the ``secondary`` slot) answers the same copies: the noise floor of that check.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from harness.engine import decisive
from harness.engine.events import Breach, Decided, Progress, now
from harness.engine.results import Evidence, StageResult
from harness.errors import SpecError, SpecIssue
from harness.judge.paired import MEASURES, PairedJudge, PairedOutcome
from harness.judge.tee_records import TeeReader, examples_by_digest
from harness.outcomes import Decision, Trigger, Verdict
from harness.ports import Backend, Endpoint, Example, Fault, Router, ServingProtocol
from harness.strategies.base import StrategyRun

if TYPE_CHECKING:
    from harness.spec.models import DetectionSpec

LABELLED_MEASURES = ("error", "latency", "incorrect")


class TeeRunner(Protocol):
    def start(self, env: dict[str, str]) -> tuple[Endpoint, Endpoint]:
        """Start the tee; (where the router sends the stable slot, the records endpoint on 127.0.0.1)."""
        ...

    def stop(self) -> None: ...


@dataclass(frozen=True)
class ShadowTraffic:
    """report.json's ``traffic.shadow``: requests copied, pairs judged, candidate answers any client got."""

    mirrored: int
    paired: int
    candidate_answers_served: int
    dropped: int = 0

    def as_json(self) -> dict[str, int]:
        return {"mirrored": self.mirrored, "paired": self.paired,
                "candidate_answers_served": self.candidate_answers_served, "dropped": self.dropped}


@dataclass(frozen=True)
class ShadowOutcome:
    decision: str  # rollback: a check crossed 1/alpha; promote: none did within max_wait
    decided_after_s: float  # since the first copy could reach the candidate (the tee in the route)
    outcomes: tuple[PairedOutcome, ...]
    traffic: ShadowTraffic
    setup_s: float = 0.0  # starting the candidate and the tee, and routing the stable slot through it
    mirroring_since: datetime | None = None
    decided_at: datetime | None = None  # the look that decided (before the route is restored and the tee goes)

    @property
    def never_served(self) -> bool:
        return self.traffic.candidate_answers_served == 0

    @property
    def summary(self) -> str:
        if self.decision == "rollback":
            failed = ", ".join(o.measure for o in self.outcomes if o.rejected)
            where = "caught in shadow: no client saw the candidate" if self.never_served else "caught in shadow"
            return f"{where} ({failed}) after {self.decided_after_s:.1f} s and {self.traffic.paired} pairs"
        return f"no paired check crossed 1/alpha in {self.decided_after_s:.1f} s ({self.traffic.paired} pairs)"


def to_evidence(out: PairedOutcome) -> Evidence:
    """A paired check as drill evidence (kind sequential: e-value against 1/alpha, effect with its confidence sequence)."""
    c = out.counts
    return Evidence(f"shadow-{out.measure}", f"paired:{out.measure}", Verdict(out.verdict), out.candidate_rate, out.threshold,
                    float(c.pairs), 0, baseline_value=out.reference_rate, effect_size=out.effect,
                    confidence=1 - min(1.0, 1 / out.e_value) if out.e_value > 0 else 0.0, at=now(), kind="sequential",
                    e_value=out.e_value, lower=out.lower, upper=out.upper, margin=out.margin, excess_upper=out.upper,
                    baseline_source="a second stable instance against the stable" if out.measure == "disagreement"
                    else "the stable on the same requests")


@dataclass
class ShadowStage:
    backend: Backend
    router: Router
    protocol: ServingProtocol
    tee: TeeRunner
    examples: Sequence[Example]  # what the load generator sends: the labels of the mirrored requests
    alpha: float = 0.01
    measures: Sequence[str] = LABELLED_MEASURES
    secondary: bool = False  # start a second stable instance (needs a backend with a "secondary" slot)
    drain_s: float = 1.0  # after the route is back: requests the router still has in flight through the tee finish
    fault: Fault | None = None  # the target's fault in front of the candidate (a fault proxy), if any
    sleep: Callable[[float], None] = time.sleep
    looks: list[tuple[float, tuple[PairedOutcome, ...]]] = field(default_factory=list)

    def run(self, stable_version: str, candidate_version: str, max_wait: float, interval: float,
            served_by_candidate: Callable[[], int]) -> ShadowOutcome:
        from harness.stack.tee import tee_env  # Docker-free at import: validating a drill loads no Docker client

        stable = self.backend.address("stable")
        if stable is None:
            raise RuntimeError("the stable slot is not running: nothing to shadow")
        with ThreadPoolExecutor(max_workers=2) as pool:  # the second stable instance starts beside the candidate
            second = pool.submit(self.backend.start, "secondary", stable_version) if self.secondary else None
            candidate = self.backend.start("candidate", candidate_version)  # never attached: it serves no client
            secondary = second.result() if second is not None else None
        if self.fault is not None:
            candidate = self.fault.wrap("candidate", candidate)  # an injected fault sits between tee and candidate
        judge = PairedJudge(self.alpha, self.measures)
        reader: TeeReader | None = None
        started = mirroring = time.monotonic()
        since: datetime | None = None
        decided_at: datetime | None = None
        decision = "promote"
        try:
            routed, records = self.tee.start(tee_env(stable, candidate, secondary, self.protocol.path))
            self.router.attach("stable", routed)
            mirroring, since = time.monotonic(), now()
            reader = TeeReader(records, self.protocol, examples_by_digest(self.examples))
            while (left := max_wait - (time.monotonic() - mirroring)) > 0:
                self.sleep(min(interval, left))  # the last look at the end of the budget, not an interval after it
                judge.extend(reader.poll())
                self.looks.append((time.monotonic() - mirroring, judge.look(with_cs=False)))
                if judge.rejected():
                    decision, decided_at = "rollback", now()
                    break
            else:
                decided_at = now()  # the budget is spent: the decision is now, not after the route is restored
        finally:
            self.router.attach("stable", stable)  # clients straight to the stable again, tee or no tee
            self.sleep(self.drain_s)
            self.tee.stop()
            if secondary is not None:
                self.backend.stop("secondary")
            if decision == "rollback":
                if self.fault is not None:
                    self.fault.unwrap("candidate")
                self.backend.stop("candidate")
        traffic = ShadowTraffic(reader.mirrored if reader else 0, judge.records - judge.dropped, served_by_candidate(),
                                sum(reader.dropped.values()) if reader else 0)
        decided_after = (decided_at - since).total_seconds() if decided_at and since else time.monotonic() - mirroring
        return ShadowOutcome(decision, round(decided_after, 2), judge.look(), traffic, round(mirroring - started, 2), since,
                             decided_at or now())


def paired_measures(det: DetectionSpec) -> tuple[str, ...]:
    """The paired checks of a shadow stage: the drill's compare measures the paired judge knows (error, latency,
    incorrect, disagreement), or the labelled three when it names none of them."""
    return tuple(dict.fromkeys(c.measure for c in det.compare if c.measure in MEASURES)) or LABELLED_MEASURES


TEE_BACKENDS = frozenset({"docker"})  # where the tee runs as a container beside the stable


def require_tee(run: StrategyRun) -> None:
    """A shadow stage runs its tee as a container: refused (bad input, exit 2) where the target has none."""
    if getattr(run.ctx.target, "shadow_tee", None) is None or run.ctx.backend.kind not in TEE_BACKENDS:
        raise SpecError(SpecIssue(str(run.drill.drill_path), "strategy.kind",
                                  f"shadow runs its tee as a container: target {run.ctx.target.name!r} on backend "
                                  f"{run.ctx.backend.kind!r} has none (builtin or image on docker)"))


def run_shadow(run: StrategyRun, max_wait: float, alpha: float) -> tuple[ShadowOutcome, StageResult]:
    """The shadow stage of a run: its traffic, exposure time and evidence go to the run's state; the stage's record."""
    ctx, state, det = run.ctx, run.state, run.drill.spec.detection
    stable, candidate = ctx.variables["stable_version"], ctx.variables["candidate_version"]
    measures = paired_measures(det)
    secondary = "disagreement" in measures  # the noise floor of the unlabelled check: a second stable instance
    if secondary:
        run.emit(Progress(f"shadow: a second {stable} instance answers the same copies (the noise floor of disagreement)"))
    stage = ShadowStage(ctx.backend, ctx.router, ctx.protocol, ctx.target.shadow_tee(),  # type: ignore[attr-defined]
                        ctx.load.examples, alpha=alpha, measures=measures, secondary=secondary, fault=ctx.target.fault)
    out = stage.run(stable, candidate, max_wait, det.interval, lambda: sum(s.version == candidate for s in ctx.load.samples()))
    state.shadow = out.traffic.as_json()
    state.deployed_at = state.deployed_at or out.mirroring_since or now()  # exposed to traffic once copies flow
    state.evidence = tuple(to_evidence(o) for o in out.outcomes)
    run.emit(Progress(f"shadow: candidate and tee up in {out.setup_s:.1f} s; {out.summary}"))
    record = StageResult("shadow", "shadow", max_wait, "rollback" if out.decision == "rollback" else "pass",
                         out.mirroring_since, out.decided_at, None, out.traffic.candidate_answers_served, out.summary,
                         tuple(e.headline for e in state.evidence))
    return out, record


def attach_candidate(run: StrategyRun) -> None:
    """Put the candidate a shadow stage left running behind the router (at weight 0), through the target's fault."""
    ctx = run.ctx
    endpoint = ctx.backend.address("candidate")
    if endpoint is None:
        raise RuntimeError("the candidate is not running: nothing to put behind the router")
    ctx.slot_versions["candidate"] = ctx.variables["candidate_version"]
    ctx.router.attach("candidate", ctx.target.fault.wrap("candidate", endpoint))  # first time: it served no one in shadow


@dataclass(frozen=True)
class Shadow:
    """``strategy: {kind: shadow}``: the stable serves, the candidate gets copies, the paired judge decides.
    The drill's ``compare`` measures (error, latency, incorrect, disagreement) are the paired checks, alpha split over them."""

    kind: str = "shadow"
    needs_rolling_backend: bool = False

    def deploy(self, run: StrategyRun) -> bool:
        require_tee(run)
        run.emit(Progress(f"shadow: {run.ctx.variables['stable_version']} serves every client, "
                          f"{run.ctx.variables['candidate_version']} gets a copy of each request"))
        return True

    def analysis_judges(self, run: StrategyRun) -> bool:
        return False  # the paired judge decides, in orchestrator_decision

    def orchestrator_decision(self, run: StrategyRun) -> Evidence | None:
        state, det = run.state, run.drill.spec.detection
        out, record = run_shadow(run, det.max_wait, det.alpha)
        state.stages = (record,)
        if out.decision == "rollback":
            state.decide(Decision.ROLLBACK, Trigger.AUTOMATED, breach=True)
            state.decision_at = state.first_breach_at = out.decided_at  # the look that decided, not the cleanup
            run.emit(Breach(next(e for e in state.evidence if e.breached)))
        else:  # promoted (or missed) only on a decisive pass of every paired check
            decision = decisive.window_ran_out(state.evidence, run.drill.spec.expected, run.drill.spec.bake)
            state.decide(decision, Trigger.AUTOMATED if decision is Decision.PROMOTE else None)
            if decision is Decision.PROMOTE:
                state.decision_at = out.decided_at or state.decision_at  # the end of the budget, not the cleanup
        run.emit(Decided(state.decision or Decision.MISSED, Trigger.AUTOMATED, state.evidence))
        return next((e for e in state.evidence if e.breached), state.evidence[0] if state.evidence else
                    Evidence("shadow", "paired", Verdict.INCONCLUSIVE, None, 0.0, None, 0))

    def promote(self, run: StrategyRun) -> None:
        attach_candidate(run)
        run.ctx.route(candidate=100, stable=0)
        if not run.drill.spec.bake:  # baking: the old version stays warm until the bake ends (harness.engine.bake)
            run.ctx.stop_slot("stable")


SHADOW = Shadow()
