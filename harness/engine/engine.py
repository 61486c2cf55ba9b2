"""The drill engine: prepare -> baseline -> deploy -> detect -> rollback (or promote) -> record, teardown always.

It drives a target only through the seams of ``harness.ports`` (no Docker, no HAProxy, no artifact paths
here), emits events and returns a typed result; it knows no rich and no SQL. The target comes from an
injected factory, so a unit test hands it a fake target.
"""

from __future__ import annotations

import logging
import secrets
import shutil
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from types import MappingProxyType

from harness import catalogue, targets
from harness.catalogue import LoadedDrill
from harness.engine.context import RunContext
from harness.engine.events import Breach, Decided, Event, Listener, Notified, PhaseEnded, PhaseStarted, Progress, RunFinished, RunStarted, TrafficTick, now
from harness.engine.human import HumanInput
from harness.engine.results import DrillResult, Evidence, EvidencePoint, PhaseResult, RunStatus, StepResult, Timestamps
from harness.engine.verdict import summarise, timeline
from harness.errors import BackendUnavailable, DrillError, SpecError, SpecIssue
from harness.judge import analysis
from harness.ports import RollbackEvent, RollingBackend, ServiceFailed, Target, Versions
from harness.runbook import executor as runbook
from harness.specs import ProfileSpec
from harness.traffic import LoadGenerator, Sample, probe, window

log = logging.getLogger(__name__)
TargetFactory = Callable[[LoadedDrill, str, Path, "str | None"], Target]


@dataclass(frozen=True)
class RunOptions:
    profile: str = "ci"
    report_root: Path = Path("reports")
    manual: bool = False
    human: HumanInput | None = None
    run_id: str | None = None
    backend: str | None = None  # None: the drill's own choice (docker unless it says otherwise)
    variables: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))  # --var KEY=VALUE


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM during a run: raised after teardown, carrying the recorded (aborted) result."""

    def __init__(self, result: DrillResult) -> None:
        super().__init__(result.reason)
        self.result = result


class StackDown(DrillError):
    """One of the stack's own services (router, metrics, the stable server) died: an error, never a missed detection."""


def resolve_profile(drill: LoadedDrill, name: str, manual: bool = False) -> ProfileSpec:
    """The drill's profile by name (SpecError if it has none such); --manual makes the decision a person's."""
    profiles = drill.spec.profiles
    if name not in profiles:
        raise SpecError(SpecIssue(str(drill.drill_path), "profiles", f"no profile {name!r}; known: {', '.join(profiles)}"))
    return profiles[name].model_copy(update={"decision": "manual"}) if manual else profiles[name]


def new_run_id(drill: str) -> str:
    return f"{now().strftime('%Y%m%dT%H%M%SZ')}-{drill}-{secrets.token_hex(3)}"


def _dead_services(target: Target | None) -> list[str]:
    if target is None:
        return []
    try:
        return [name for name, alive in target.services().items() if not alive]
    except DrillError:
        return []


def _check_stack(target: Target, during: str) -> None:
    dead = _dead_services(target)
    if dead:
        raise StackDown(f"the stack's own {', '.join(dead)} stopped during {during}: not the candidate's doing")


def _shielded(fn: Callable[[], None], attempts: int = 5) -> bool:
    """Run ``fn`` to the end even if Ctrl-C arrives meanwhile (it is run again); True if it was interrupted."""
    interrupted = False
    for _ in range(attempts):
        try:
            fn()
            return interrupted
        except KeyboardInterrupt:
            interrupted = True
    return interrupted


@dataclass
class _State:
    """What one run learns as it goes; frozen into a DrillResult at the end."""

    started_at: datetime
    phases: list[PhaseResult] = field(default_factory=list)
    versions: Versions | None = None
    deployed_at: datetime | None = None
    first_breach_at: datetime | None = None
    decision_at: datetime | None = None
    rollback_started_at: datetime | None = None
    completed_at: datetime | None = None
    decision: str | None = None
    trigger: str | None = None
    evidence: tuple[Evidence, ...] = ()
    trace: list[EvidencePoint] = field(default_factory=list)  # every look at every check, for reports
    steps: tuple[StepResult, ...] = ()
    serving_after: str | None = None
    images_source: str | None = None
    baseline_error_rate: float = 0.0
    baseline_window: tuple[float, float] | None = None  # epoch seconds of the pre-deploy baseline
    failure: str | None = None  # why a rollback/promotion did not complete
    torn_down: bool = False


class Engine:
    def __init__(self, listeners: Sequence[Listener] = (), make_target: TargetFactory = targets.create) -> None:
        self.listeners = list(listeners)
        self.make_target = make_target

    def emit(self, event: Event) -> None:
        """Tell every listener; one that fails is logged and skipped, never fatal to the run (or to the others)."""
        for listener in self.listeners:
            try:
                listener.on_event(event)
            except Exception:  # a console that lost its terminal, a full disk: the run goes on
                log.exception("listener %s failed on %s", type(listener).__name__, type(event).__name__)

    @contextmanager
    def _phase(self, state: _State, name: str) -> Iterator[None]:
        self.emit(PhaseStarted(name))
        started, t0, status = now(), time.perf_counter(), "ok"
        try:
            yield
        except BaseException:
            status = "failed"
            raise
        finally:
            duration = round(time.perf_counter() - t0, 3)
            state.phases.append(PhaseResult(name, started, now(), duration, status))
            self.emit(PhaseEnded(name, status, duration))

    # ---- the run --------------------------------------------------------------------------
    def run(self, drill: LoadedDrill, options: RunOptions = RunOptions()) -> DrillResult:
        spec = drill.spec
        profile = resolve_profile(drill, options.profile, options.manual)
        run_id = options.run_id or new_run_id(spec.name)
        state = _State(started_at=now())
        self.emit(RunStarted(run_id, spec.name, options.profile))
        status, reason = RunStatus.ERROR, "did not finish"
        workdir = Path(tempfile.mkdtemp(prefix=f"drill-{run_id}-"))
        target: Target | None = None
        load: LoadGenerator | None = None
        ctx: RunContext | None = None
        ticker_stop = threading.Event()
        interrupted = False
        environment: BackendUnavailable | None = None
        bad_input: SpecError | None = None
        samples: list[Sample] = []
        weight_log: list[tuple[float, int]] = []
        try:
            with self._phase(state, "prepare"):
                target = self.make_target(drill, run_id, workdir, options.backend)
                state.versions = target.versions
                target.prepare(lambda m: self.emit(Progress(m)))
                state.images_source = getattr(target, "images_source", None)
            versions = target.versions
            with self._phase(state, "baseline"):
                slot_versions = {"stable": versions.stable}
                load = LoadGenerator(target.traffic_endpoint, target.protocol, spec.traffic.rate, spec.traffic.workers,
                                     spec.traffic.timeout, slot_versions=slot_versions)
                ctx = RunContext(target, load, self.emit,
                                 {**options.variables,
                                  "stable_version": versions.stable, "candidate_version": versions.candidate,
                                  "previous_version": versions.previous, "model": spec.model, "run_id": run_id},
                                 allow_shell=spec.allow_shell, slot_versions=slot_versions)
                load.start()
                threading.Thread(target=self._tick, args=(ctx, ticker_stop), daemon=True).start()
                t0 = time.time()
                time.sleep(profile.baseline)
                state.baseline_window = (t0, time.time())
                base = window(load.samples(), t0, time.time())
                state.baseline_error_rate = ctx.baseline_error_rate = base.error_rate
                self.emit(Progress(f"baseline: {base.requests} requests, error rate {base.error_rate:.1%}"))
            if spec.preflight:
                with self._phase(state, "preflight"):
                    self._preflight(ctx, drill, state)
            if state.failure is None:
                with self._phase(state, "deploy"):
                    target.sabotage(spec.sabotage)
                    deployed = self._deploy(ctx, drill, state)
                with self._phase(state, "detect"):
                    if deployed:
                        self._detect(ctx, drill, profile, state, options)
            if state.decision == "rollback":
                with self._phase(state, "rollback"):
                    state.rollback_started_at = now()
                    outcome = runbook.execute(drill.runbook, ctx, self.emit, options.human if profile.decision == "manual" else None)
                    state.steps = state.steps + outcome.steps
                    if outcome.ok:
                        state.completed_at = outcome.steps[-1].ended_at
                        self._record_rollback(ctx, drill, state, run_id)
                    else:
                        failed = outcome.first_failure
                        state.failure = f"runbook step {failed.name} failed: {failed.error}" if failed else "runbook failed"
            elif state.decision == "promote":
                with self._phase(state, "promote"):
                    self._promote(ctx, versions, state)
            state.serving_after = self._serving_version(ctx)
            status, reason = self._judge(drill, state, versions)
            dead = _dead_services(target)
            if status is not RunStatus.PASSED and dead:
                status, reason = RunStatus.ERROR, f"the stack's own {', '.join(dead)} stopped during the drill ({reason})"
        except KeyboardInterrupt:
            interrupted = True
            status, reason = RunStatus.ABORTED, "interrupted (Ctrl-C or SIGTERM)"
        except StackDown as exc:
            status, reason = RunStatus.ERROR, str(exc)
        except BackendUnavailable as exc:
            environment = exc
            status, reason = RunStatus.ERROR, f"environment: {exc}"
        except SpecError as exc:  # found only once running (a target's own check): recorded, then exit 2
            bad_input = exc
            status, reason = RunStatus.ERROR, f"bad input: {exc}"
        except Exception as exc:  # the run is recorded as an error, not lost; teardown follows either way
            status, reason = RunStatus.ERROR, f"{type(exc).__name__}: {exc}"
        finally:
            ticker_stop.set()
            # A second Ctrl-C must not skip the teardown: it is retried until it has run to the end.
            interrupted |= _shielded(lambda: self._teardown(state, load, target, workdir))
        if load is not None:
            samples = load.samples()
        if ctx is not None:
            weight_log = ctx.weight_log
        result = self._result(drill, options, run_id, state, status, reason, samples, target)
        result = replace(result, timeline=timeline(samples, weight_log, state.started_at.timestamp()))
        interrupted |= _shielded(lambda: self.emit(RunFinished(result)))
        if interrupted:
            raise RunInterrupted(result)
        if environment is not None:
            environment.result = result
            raise environment
        if bad_input is not None:
            raise bad_input
        return result

    def _teardown(self, state: _State, load: LoadGenerator | None, target: Target | None, workdir: Path) -> None:
        with self._phase(state, "teardown"):
            if load is not None:
                load.stop()
            if target is not None:
                target.close()
            shutil.rmtree(workdir, ignore_errors=True)
        state.torn_down = True

    # ---- phases -----------------------------------------------------------------------------
    def _deploy(self, ctx: RunContext, drill: LoadedDrill, state: _State) -> bool:
        """Roll the candidate out by the drill's strategy. False when it never became ready."""
        strategy = drill.spec.strategy
        candidate = ctx.variables["candidate_version"]
        ctx.registry.promote(candidate, reason=f"deploy by drill {drill.spec.name}")
        rollout_started = now()
        if strategy.kind == "swarm-update":
            return self._rolling_update(ctx, drill, state)
        canary = strategy.weight if strategy.kind == "canary" else 100
        try:
            ctx.start_slot("candidate", candidate)  # at weight 0 until the health check passes
        except ServiceFailed as exc:
            # A crash-looping model never serves: the readiness failure is the (automated) detection.
            state.deployed_at = rollout_started
            state.first_breach_at = state.decision_at = now()
            state.decision, state.trigger = "rollback", "automated"
            state.evidence = (Evidence("candidate-readiness", "container readiness", "fail", None, 0.0, None, 0,
                                       at=state.decision_at),)
            self.emit(Progress(f"candidate never became ready: {str(exc)[:200]}"))
            self.emit(Decided("rollback", "automated", state.evidence))
            return False
        ctx.route(candidate=canary, stable=100 - canary)
        state.deployed_at = now()
        self.emit(Progress(f"{strategy.kind}: candidate {candidate} at {canary}%"))
        return True

    def _rolling_update(self, ctx: RunContext, drill: LoadedDrill, state: _State) -> bool:
        """The orchestrator rolls the stable slot to the candidate itself, watching health (and maybe rolling back)."""
        backend = ctx.backend
        if not isinstance(backend, RollingBackend):
            raise SpecError(SpecIssue(str(drill.drill_path), "strategy.kind",
                                      f"backend {backend.kind!r} has no rolling update of its own"))
        candidate = ctx.variables["candidate_version"]
        backend.rolling_update("stable", candidate)
        state.deployed_at = now()
        self.emit(Progress(f"rolling update: stable -> {candidate} by the orchestrator "
                           f"(failure action {drill.spec.strategy.failure_action})"))
        return True

    def _orchestrator_decided(self, ctx: RunContext, state: _State) -> bool:
        """A rolling update the orchestrator is rolling back by itself: its decision, taken as the drill's."""
        backend = ctx.backend
        if not isinstance(backend, RollingBackend):
            return False
        rollout = backend.rollout("stable")
        if not rollout.rolled_back_by_orchestrator:
            return False
        state.first_breach_at = state.first_breach_at or now()
        state.decision_at, state.decision, state.trigger = now(), "rollback", "automated"
        state.evidence = (Evidence(f"{backend.kind}-update-monitor", f"update status {rollout.state}: {rollout.message}",
                                   "fail", 1.0, 0.0, None, 0, at=state.decision_at),)
        self.emit(Breach(state.evidence[0]))
        self.emit(Decided("rollback", "automated", state.evidence))
        return True

    def _detect(self, ctx: RunContext, drill: LoadedDrill, profile: ProfileSpec, state: _State, options: RunOptions) -> None:
        det = drill.spec.detection
        strategy = drill.spec.strategy
        deadline = time.monotonic() + det.max_wait
        streak = 0
        while time.monotonic() < deadline:
            _check_stack(ctx.target, "detection")
            if strategy.kind == "swarm-update":
                if self._orchestrator_decided(ctx, state):
                    return
                if strategy.detect_by == "orchestrator":  # the team's path has no analysis of its own
                    time.sleep(det.interval)
                    continue
            verdict = analysis.judge(ctx.prometheus, det.metrics, det.compare, self._split_samples(ctx, state), det.alpha)
            state.evidence = verdict.evidence
            assert state.deployed_at is not None
            state.trace.extend(analysis.trace_points(verdict.evidence, (now() - state.deployed_at).total_seconds()))
            if verdict.breached and state.first_breach_at is None:
                state.first_breach_at = now()
                self.emit(Breach(next(e for e in verdict.evidence if e.breached)))
            streak = streak + 1 if verdict.verdict == "fail" else 0
            if streak >= det.consecutive:
                self._decide(state, profile, options, verdict.evidence)
                return
            time.sleep(det.interval)
        _check_stack(ctx.target, "detection")  # a dead router is never a missed detection
        state.decision_at = now()
        state.decision, state.trigger = ("promote", "automated") if drill.spec.expect == "promote" else ("missed", None)
        self.emit(Decided(state.decision, "automated", state.evidence))

    @staticmethod
    def _split_samples(ctx: RunContext, state: _State) -> analysis.SampleSplit:
        """Client-side samples: the candidate's, and its baseline (stable beside a canary, the pre-deploy window after a 100 % switch)."""
        return analysis.split_samples(ctx.load.samples(), state.deployed_at.timestamp() if state.deployed_at else None,
                                      ctx.variables["stable_version"], ctx.variables["candidate_version"],
                                      ctx.weights.get("candidate", 0))

    def _decide(self, state: _State, profile: ProfileSpec, options: RunOptions, evidence: tuple[Evidence, ...]) -> None:
        if profile.decision == "automated" or options.human is None:
            state.decision_at, state.decision, state.trigger = now(), "rollback", "automated"
        else:
            lines = [f"ALERT: canary analysis failed at {now():%H:%M:%S}"] + [
                f"  {e.headline}, samples {e.samples}"
                for e in evidence]
            answer = options.human.decide("\n".join(lines), profile.decision_timeout)
            state.decision_at = now()
            if answer.value is None:
                self.emit(Notified("escalation", f"no decision within {profile.decision_timeout:g}s: paging the secondary on-call; rolling back by default"))
                state.decision, state.trigger = "rollback", "automated"
            else:
                state.decision, state.trigger = answer.value, "manual"
        self.emit(Decided(state.decision or "", state.trigger or "", evidence))

    def _promote(self, ctx: RunContext, versions: Versions, state: _State) -> None:
        if isinstance(ctx.backend, RollingBackend) and ctx.backend.rollout("stable").state is not None:
            # A rolling update promotes by finishing: the stable slot itself runs the new version.
            ctx.backend.wait_converged("stable", 120.0, version=versions.candidate)
        else:
            ctx.route(candidate=100, stable=0)
            ctx.stop_slot("stable")
        # The steady state must hold after promotion too: only the candidate answers, errors at baseline.
        since = time.time()
        time.sleep(1.0)
        after = window(ctx.load.samples(), since + 0.2, time.time())
        held = analysis.error_rate_held(after.failed, after.requests, self._split_samples(ctx, state).reference)
        if set(after.by_version) != {versions.candidate} or not held:
            state.failure = f"steady state not held after promotion: {after}"
        else:
            state.completed_at = now()

    def _preflight(self, ctx: RunContext, drill: LoadedDrill, state: _State) -> None:
        """The drill's pre-flight steps; a failure is the run's failure and nothing is deployed."""
        outcome = runbook.execute(catalogue.preflight_runbook(drill.spec), ctx, self.emit)
        state.steps = outcome.steps
        failed = outcome.first_failure
        if failed is not None:
            state.failure = f"pre-flight step {failed.name} failed: {failed.error}"

    def _record_rollback(self, ctx: RunContext, drill: LoadedDrill, state: _State, run_id: str) -> None:
        """Tell the registry (the standard: tag the rolled-back version); a registry that cannot is noted, not fatal."""
        event = RollbackEvent(run_id, ctx.variables["candidate_version"], ctx.variables["stable_version"],
                              state.decision_at, state.completed_at, state.trigger, drill.spec.root_cause)
        try:
            ctx.registry.record_rollback(event)
        except DrillError as exc:
            self.emit(Progress(f"registry did not take the rollback event: {exc}"))

    @staticmethod
    def _serving_version(ctx: RunContext | None) -> str | None:
        """Which version(s) answer through the router now, comma-joined."""
        if ctx is None:
            return None
        try:
            answers = probe(ctx.traffic_endpoint, ctx.protocol, 10, timeout=3, slot_versions=ctx.slot_versions)
        except (OSError, DrillError):
            return None
        return ",".join(sorted({a.version or "?" for a in answers}))

    def _tick(self, ctx: RunContext, stop: threading.Event) -> None:
        while not stop.wait(0.5):
            t = time.time()
            recent = [s for s in ctx.load.samples() if s.at >= t - 1.0]
            requests: Counter[str] = Counter(s.version or "none" for s in recent)
            errors: Counter[str] = Counter(s.version or "none" for s in recent if not s.ok)
            self.emit(TrafficTick(ctx.weights.get("candidate", 0), dict(requests), dict(errors)))

    # ---- judging and the result -------------------------------------------------------------
    @staticmethod
    def _judge(drill: LoadedDrill, state: _State, versions: Versions) -> tuple[RunStatus, str]:
        spec = drill.spec
        if spec.expect == "promote":
            if state.decision == "rollback":
                return RunStatus.FAILED, "false rollback: a good version was rolled back"
            if state.failure:
                return RunStatus.FAILED, state.failure
            return RunStatus.PASSED, f"good version {versions.candidate} promoted; nothing rolled back"
        if state.decision == "missed":
            last = "; ".join(f"{e.metric} {e.verdict} (value {e.canary_value if e.canary_value is None else round(e.canary_value, 4)}, "
                             f"samples {e.samples if e.samples is None else round(e.samples, 1)})" for e in state.evidence)
            return RunStatus.FAILED, f"bad version not detected within {spec.detection.max_wait:g}s (last look: {last or 'no evidence'})"
        if state.decision == "hold":
            return RunStatus.FAILED, "a person chose to hold; nothing was rolled back"
        if state.failure:
            return RunStatus.FAILED, state.failure
        if state.serving_after != versions.stable:
            return RunStatus.FAILED, f"serving {state.serving_after} after rollback, expected {versions.stable}"
        assert state.decision_at is not None and state.completed_at is not None
        took = (state.completed_at - state.decision_at).total_seconds()
        if took > spec.time_target:
            return RunStatus.FAILED, f"decision to completion {took:.1f}s missed the {spec.time_target:g}s target"
        return RunStatus.PASSED, f"rolled back to {versions.stable} and verified in {took:.2f}s"

    def _result(self, drill: LoadedDrill, options: RunOptions, run_id: str, state: _State, status: RunStatus,
                reason: str, samples: list[Sample], target: Target | None) -> DrillResult:
        spec = drill.spec
        versions = state.versions
        stamps = Timestamps(state.started_at, state.deployed_at, state.first_breach_at, state.decision_at,
                            state.rollback_started_at, state.completed_at, now())
        return DrillResult(
            run_id=run_id, drill=spec.name, profile=options.profile, status=status, reason=reason,
            trigger=state.trigger, decision=state.decision, root_cause=spec.root_cause, model=spec.model,
            stable_version=versions.stable if versions else "?", candidate_version=versions.candidate if versions else "?",
            rolled_back=state.decision == "rollback" and state.completed_at is not None,
            timestamps=stamps, target_s=spec.time_target, steps=state.steps, phases=tuple(state.phases),
            traffic=summarise(samples, rollback_started=state.rollback_started_at.timestamp() if state.rollback_started_at else None,
                              completed=state.completed_at.timestamp() if state.completed_at else None,
                              baseline_error_rate=state.baseline_error_rate,
                              candidate=versions.candidate if versions else None) if samples else None,
            serving_version_after=state.serving_after, evidence=state.evidence, images_source=state.images_source,
            evidence_trace=tuple(state.trace),
            report_dir=str(options.report_root / run_id),
            expect="fail" if spec.sabotage != "none" or "broken" in spec.name else spec.expect,
            target=target.name if target is not None else targets.target_kind(drill),
            backend=target.backend.kind if target is not None and _started(target) else (options.backend or "docker"),
            replicas=target.backend.replicas() if target is not None and _started(target) else None,
        )


def _started(target: Target) -> bool:
    try:
        target.backend  # noqa: B018 - a target's parts exist once it is prepared
    except DrillError:
        return False
    return True

