"""The drill engine: prepare -> baseline -> deploy -> detect -> rollback (or promote) -> record, teardown always.

It drives a target only through the seams of ``harness.ports`` (no Docker, no HAProxy, no artifact paths
here), emits events and returns a typed result; it knows no rich and no SQL. The target comes from an
injected factory, so a unit test hands it a fake target.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from harness import guards, strategies, targets
from harness.adversity.schedule import Scheduler
from harness.engine import bake, decisive, redaction, visibility
from harness.engine.context import RunContext
from harness.engine.events import (
    Alerted,
    Breach,
    Decided,
    Event,
    Listener,
    Notified,
    PhaseEnded,
    PhaseStarted,
    Progress,
    RunFinished,
    RunStarted,
    now,
)
from harness.engine.judging import build_result, judge
from harness.engine.results import DrillResult, Evidence, PhaseResult, RunStatus
from harness.engine.signals import terminating_on_sigterm
from harness.engine.state import RunOptions as RunOptions  # re-exported: the engine's public options
from harness.engine.state import RunState
from harness.engine.state import new_run_id as new_run_id
from harness.engine.state import resolve_profile as resolve_profile
from harness.engine.teardown import Teardown, TeardownFailed, shielded
from harness.engine.verdict import timeline
from harness.engine.watch import StackDown as StackDown
from harness.engine.watch import check_stack, dead_services, serving_version, tick
from harness.errors import BackendUnavailable, DrillError, RunNotKept, SpecError, SpecIssue
from harness.guards.monitor import GuardMonitor, GuardTripped
from harness.judge import analysis
from harness.outcomes import DecidedBy, Decision, Expectation, Phase, Trigger, Verdict
from harness.ports import ArtifactReads, RollbackEvent, Target, UsesRunVariables, Versions
from harness.runbook import executor as runbook
from harness.spec import catalogue
from harness.spec.catalogue import LoadedDrill
from harness.spec.models import ProfileSpec
from harness.strategies import Strategy, StrategyRun
from harness.traffic.generator import LoadGenerator, Sample, window
from harness.traffic.profile import Schedule

log = logging.getLogger(__name__)
TargetFactory = Callable[[LoadedDrill, str, Path, "str | None"], Target]


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM during a run: raised after teardown, carrying the recorded (aborted) result."""

    def __init__(self, result: DrillResult) -> None:
        super().__init__(result.reason)
        self.result = result


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
    def _phase(self, state: RunState, name: str) -> Iterator[None]:
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
        """Run the drill; SIGTERM (from the main thread) and Ctrl-C tear down and raise ``RunInterrupted``."""
        with terminating_on_sigterm():
            return self._run(drill, options)

    def _run(self, drill: LoadedDrill, options: RunOptions) -> DrillResult:
        spec = drill.spec
        profile = resolve_profile(drill, options.profile, options.manual)
        run_id = options.run_id or new_run_id(spec.name)
        state = RunState(started_at=now())
        self.emit(RunStarted(run_id, spec.name, options.profile))
        status, reason = RunStatus.ERROR, "did not finish"
        workdir = Path(tempfile.mkdtemp(prefix=f"drill-{run_id}-"))
        target: Target | None = None
        load: LoadGenerator | None = None
        ctx: RunContext | None = None
        guard: GuardMonitor | None = None
        ticker_stop = threading.Event()
        interrupted = False
        environment: BackendUnavailable | None = None
        bad_input: SpecError | None = None
        samples: list[Sample] = []
        weight_log: list[tuple[float, int]] = []
        # Faults on the way back (drill's adversity:): a listener for this run, always undone before teardown.
        adversity = Scheduler(spec.adversity, lambda m: self.emit(Progress(m)))
        if spec.adversity:
            self.listeners.append(adversity)
        try:
            with self._phase(state, Phase.PREPARE):
                target = self.make_target(drill, run_id, workdir, options.backend)
                if isinstance(target, UsesRunVariables):  # --var values for the team's commands
                    target.use_variables(options.variables)
                adversity.bind(target, run_id)
                state.versions = target.versions
                target.prepare(lambda m: self.emit(Progress(m)))
                state.images_source = target.images_source
            versions = target.versions
            with self._phase(state, Phase.BASELINE):
                slot_versions = {"stable": versions.stable}
                load = LoadGenerator(target.traffic_endpoint, target.protocol, Schedule.of(spec.traffic),
                                     spec.traffic.connections, spec.traffic.timeout, slot_versions=slot_versions,
                                     labelled=spec.traffic.labelled)
                ctx = RunContext(target, load, self.emit,
                                 {**options.variables,
                                  "stable_version": versions.stable, "candidate_version": versions.candidate,
                                  "previous_version": versions.previous, "model": spec.model, "run_id": run_id},
                                 allow_shell=spec.allow_shell, slot_versions=slot_versions)
                guard = guards.watch(spec.stop_conditions, target, load, lambda m: self.emit(Progress(m)))
                ctx.pause = guard.sleep
                load.start()
                guard.start()
                threading.Thread(target=tick, args=(ctx, ticker_stop, self.emit), daemon=True).start()
                t0 = time.time()
                ctx.pause(profile.baseline)
                state.baseline_window = (t0, base_end := time.time())
                base = window(load.samples(), t0, base_end)
                state.baseline_error_rate = ctx.baseline_error_rate = base.error_rate
                ctx.baseline_requests = base.requests
                self.emit(Progress(f"baseline: {base.requests} requests, error rate {base.error_rate:.1%}"))
                self._can_see(ctx, drill, [s for s in load.samples() if t0 <= s.at < base_end])
            if spec.preflight:
                with self._phase(state, Phase.PREFLIGHT):
                    self._preflight(ctx, drill, state)
            guard.check()
            if state.failure is None:
                with self._phase(state, Phase.DEPLOY):
                    if spec.sabotage != "none" and isinstance(target.registry, ArtifactReads):
                        state.reads_before_sabotage = len(target.registry.artifact_reads())
                    target.sabotage(spec.sabotage)
                    deployed = self._deploy(ctx, drill, state)
                with self._phase(state, Phase.DETECT):
                    if deployed:
                        self._detect(ctx, drill, profile, state, options)
            guard.check()  # no rollback or promotion of drill's after an abort: the team's abort was the way back
            if state.decision == Decision.PROMOTE:
                with self._phase(state, Phase.PROMOTE):
                    self._promote(ctx, drill, versions, state)
                if spec.bake and state.failure is None:
                    with self._phase(state, Phase.BAKE):
                        bake.watch(ctx, drill, state, self.emit)  # a regression found: the decision becomes rollback
            if state.decision == Decision.ROLLBACK:
                with self._phase(state, Phase.ROLLBACK):
                    state.rollback_started_at = now()
                    ctx.variables["rollback_started_at"] = repr(state.rollback_started_at.timestamp())
                    outcome = runbook.execute(drill.runbook, ctx, self.emit, options.human if profile.decision == "manual" else None)
                    state.steps = state.steps + outcome.steps
                    if outcome.ok:
                        state.completed_at = outcome.steps[-1].ended_at
                        self._record_rollback(ctx, drill, state, run_id)
                    else:
                        failed = outcome.first_failure
                        state.failure = (f"runbook step {failed.name} failed: {failed.error}{adversity.blame(failed)}"
                                         if failed else "runbook failed")
            state.serving_after = serving_version(ctx)
            status, reason = judge(drill, state, versions)
            dead = dead_services(target, frozenset(ctx.stopped) if ctx is not None else frozenset())
            if status is not RunStatus.PASSED and dead:
                status, reason = RunStatus.ERROR, f"the stack's own {', '.join(dead)} stopped during the drill ({reason})"
        except GuardTripped:
            pass  # recorded below from the monitor's trip, wherever the run noticed it
        except KeyboardInterrupt:
            interrupted = True
            status, reason = RunStatus.ABORTED, "interrupted (Ctrl-C or SIGTERM)"
        except (StackDown, visibility.CheckCannotSee) as exc:
            status, reason = RunStatus.ERROR, str(exc)
        except BackendUnavailable as exc:
            environment = exc
            status, reason = RunStatus.ERROR, f"environment: {exc}"
        except SpecError as exc:  # found only once running (a target's own check): recorded, then exit 2
            bad_input = exc
            status, reason = RunStatus.ERROR, f"bad input: {exc}"
        except Exception as exc:  # the run is recorded as an error, not lost; teardown follows either way
            status, reason = RunStatus.ERROR, redaction.scrub(f"{type(exc).__name__}: {exc}")
        finally:
            ticker_stop.set()
            teardown = Teardown()
            if guard is not None:  # an abort under way finishes before the teardown
                interrupted |= shielded(lambda: teardown.step("stop the guards", guard.stop))
            interrupted |= shielded(lambda: teardown.step("undo the faults", adversity.stop_all))
            if adversity in self.listeners:
                self.listeners.remove(adversity)
            # A second Ctrl-C must not skip the teardown: it is retried until it has run to the end.
            interrupted |= shielded(lambda: self._teardown(state, load, target, workdir, teardown))
        trip = guard.tripped if guard is not None else None
        if trip is not None and not interrupted:
            status, reason = RunStatus.ABORTED, trip.reason
        if teardown.errors:  # the run is still recorded; what teardown hit is an environment error (exit 3)
            left = f"teardown failed: {teardown.summary()}"
            status, reason = RunStatus.ERROR, f"{left} (the run: {status.value}, {reason})"
            if environment is None and bad_input is None:
                environment = RunNotKept(left)
        if load is not None:
            samples = load.samples()
        if ctx is not None:
            weight_log = ctx.weight_log
        # A registry that cannot tell (a plugin's) leaves sabotage_reached None: judged on the status alone.
        witness: object = target.registry if state.reads_before_sabotage is not None and target is not None else None
        if isinstance(witness, ArtifactReads) and state.versions is not None:
            reads = witness.artifact_reads()[state.reads_before_sabotage or 0:]
            state.sabotage_reached = state.versions.stable in reads
        result = build_result(drill, options, run_id, state, status, reason, samples, target, load)
        result = replace(result, adversity=adversity.records(state.steps), stopped_by=trip)
        result = replace(result, timeline=timeline(samples, weight_log, state.started_at.timestamp()))
        interrupted |= shielded(lambda: self.emit(RunFinished(result)))
        if interrupted:
            raise RunInterrupted(result)
        if environment is not None:
            environment.result = result
            raise environment
        if bad_input is not None:
            raise bad_input
        return result

    def _teardown(self, state: RunState, load: LoadGenerator | None, target: Target | None, workdir: Path,
                  teardown: Teardown) -> None:
        """Each step in its own guard: a load generator that will not stop never keeps the stack up."""
        try:
            with self._phase(state, Phase.TEARDOWN):
                if load is not None:
                    teardown.step("stop the load", load.stop)
                if target is not None:
                    teardown.step("close the target", target.close)
                shutil.rmtree(workdir, ignore_errors=True)
                if teardown.errors:
                    raise TeardownFailed(teardown.summary())  # marks the phase failed in the result
        except TeardownFailed:
            return
        state.torn_down = True

    # ---- phases -----------------------------------------------------------------------------
    def _strategy(self, ctx: RunContext, drill: LoadedDrill, state: RunState) -> tuple[Strategy, StrategyRun]:
        kind = drill.spec.strategy.kind
        found = strategies.get(kind)
        if found is None:
            raise SpecError(SpecIssue(str(drill.drill_path), "strategy.kind", f"no strategy {kind!r}"))
        return found, StrategyRun(ctx, drill, state, self.emit)

    def _deploy(self, ctx: RunContext, drill: LoadedDrill, state: RunState) -> bool:
        """Roll the candidate out by the drill's strategy. False when it never became ready."""
        strategy, run = self._strategy(ctx, drill, state)
        ctx.registry.promote(ctx.variables["candidate_version"], reason=f"deploy by drill {drill.spec.name}")
        return strategy.deploy(run)

    def _detect(self, ctx: RunContext, drill: LoadedDrill, profile: ProfileSpec, state: RunState, options: RunOptions) -> None:
        det = drill.spec.detection
        strategy, run = self._strategy(ctx, drill, state)
        judges = strategy.analysis_judges(run)
        deadline = time.monotonic() + det.max_wait
        streak, first = 0, True
        while first or time.monotonic() < deadline:  # at least one look: a staged strategy keeps its own budgets
            first = False
            check_stack(ctx.target, "detection", frozenset(ctx.stopped))
            if strategy.orchestrator_decision(run) is not None:
                return
            if not judges:
                ctx.pause(det.interval)
                continue
            verdict = analysis.judge(ctx.prometheus, det.metrics, det.compare, self._split_samples(ctx, state), det.alpha)
            state.evidence = verdict.evidence
            assert state.deployed_at is not None
            state.trace.extend(analysis.trace_points(verdict.evidence, (now() - state.deployed_at).total_seconds()))
            if verdict.breached and state.first_breach_at is None:
                state.first_breach_at = now()
                self.emit(Breach(next(e for e in verdict.evidence if e.breached)))
            streak = streak + 1 if verdict.verdict == Verdict.FAIL else 0
            if streak >= det.consecutive:
                self._decide(state, profile, options, verdict.evidence)
                if state.decision is Decision.HOLD:  # said aloud: the split stays as it is until teardown
                    state.held_weight = ctx.weights.get("candidate", 0)
                    self.emit(Progress(f"hold: the candidate keeps {state.held_weight} % of the traffic until teardown"))
                return
            ctx.pause(det.interval)
        check_stack(ctx.target, "detection", frozenset(ctx.stopped))  # a dead router is never a missed detection
        if not judges:  # the orchestrator's own monitor is the judge: its update converged without a rollback
            decision = Decision.PROMOTE if drill.spec.expect == Expectation.PROMOTE else Decision.MISSED
        else:  # no verdict without evidence: promoted (or missed) only on a decisive pass of every check
            decision = decisive.window_ran_out(state.evidence, drill.spec.expected, drill.spec.bake)
            if decision is Decision.INCONCLUSIVE and (blind := visibility.unseen_metrics(det.metrics, ctx.prometheus)):
                raise visibility.CheckCannotSee(f"a check cannot see: {'; '.join(blind)}")
        state.decide(decision, Trigger.AUTOMATED if decision is Decision.PROMOTE else None)
        self.emit(Decided(decision, Trigger.AUTOMATED, state.evidence))

    @staticmethod
    def _split_samples(ctx: RunContext, state: RunState) -> analysis.SampleSplit:
        """Client-side samples: the candidate's, and its baseline (stable beside a canary, the pre-deploy window after a 100 % switch)."""
        return analysis.split_samples(ctx.load.samples(), state.deployed_at.timestamp() if state.deployed_at else None,
                                      ctx.variables["stable_version"], ctx.variables["candidate_version"],
                                      ctx.weights.get("candidate", 0))

    def _decide(self, state: RunState, profile: ProfileSpec, options: RunOptions, evidence: tuple[Evidence, ...]) -> None:
        if profile.decision == "automated" or options.human is None:
            state.decide(Decision.ROLLBACK, Trigger.AUTOMATED)
        else:
            human = options.human
            state.alerted_at = now()
            headline = f"ALERT: canary analysis failed at {state.alerted_at:%H:%M:%S}"
            self.emit(Alerted(headline, at=state.alerted_at))
            lines = [headline] + [f"  {e.headline}, samples {e.samples}" for e in evidence]
            answer = human.decide("\n".join(lines), profile.decision_timeout)
            state.decision_at = now()
            if answer.value is None:
                self.emit(Notified("escalation", f"{answer.silence(profile.decision_timeout)}: paging the secondary "
                                                 "on-call; rolling back by default (an automated decision)"))
                state.decision, state.trigger = Decision.ROLLBACK, Trigger.AUTOMATED
                state.decided_by = DecidedBy.AUTOMATION
            else:
                state.decision, state.trigger = Decision(answer.value), Trigger.MANUAL
                state.decided_by, state.decider = human.source, answer.by or human.who
        self.emit(Decided(state.decision or Decision.ROLLBACK, state.trigger or Trigger.AUTOMATED, evidence,
                          state.decided_by or DecidedBy.AUTOMATION, state.decider, state.alerted_at))

    def _promote(self, ctx: RunContext, drill: LoadedDrill, versions: Versions, state: RunState) -> None:
        strategy, run = self._strategy(ctx, drill, state)
        strategy.promote(run)
        state.promoted_at = now()
        # The steady state must hold after promotion too: only the candidate answers, errors at baseline.
        since = time.time()
        ctx.pause(1.0)
        after = window(ctx.load.samples(), since + 0.2, time.time())
        held = analysis.error_rate_held(after.failed, after.requests, self._split_samples(ctx, state).reference)
        if set(after.by_version) != {versions.candidate} or not held:
            state.failure = f"steady state not held after promotion: {after}"
        else:
            state.completed_at = now()

    @staticmethod
    def _can_see(ctx: RunContext, drill: LoadedDrill, baseline: list[Sample]) -> None:
        """Every check shows, on the stable's baseline answers, that it can see (harness.engine.visibility)."""
        det = drill.spec.detection
        if drill.spec.strategy.detect_by == "orchestrator":  # the drill's own checks do not judge
            return
        blind = visibility.problems(baseline, ctx.variables["stable_version"], det.compare, ctx.load.examples)
        if blind:
            raise visibility.CheckCannotSee(f"a check cannot see, so nothing was deployed: {'; '.join(blind)}")

    def _preflight(self, ctx: RunContext, drill: LoadedDrill, state: RunState) -> None:
        """The drill's pre-flight steps; a failure is the run's failure and nothing is deployed."""
        outcome = runbook.execute(catalogue.preflight_runbook(drill.spec), ctx, self.emit)
        state.steps = outcome.steps
        failed = outcome.first_failure
        if failed is not None:
            state.failure = f"pre-flight step {failed.name} failed: {failed.error}"

    def _record_rollback(self, ctx: RunContext, drill: LoadedDrill, state: RunState, run_id: str) -> None:
        """Tell the registry (the standard: tag the rolled-back version); a registry that cannot is noted, not fatal."""
        event = RollbackEvent(run_id, ctx.variables["candidate_version"], ctx.variables["stable_version"],
                              state.decision_at, state.completed_at, state.trigger, drill.spec.root_cause)
        try:
            ctx.registry.record_rollback(event)
        except DrillError as exc:
            self.emit(Progress(f"registry did not take the rollback event: {exc}"))
