"""Runbook executor: ordered steps, each timed in ``finally``, retried by its policy.

A step's failure with ``on_failure: abort`` skips the rest; ``continue`` goes on but the run
still counts the failure. Manual steps are confirmed one by one by a person and timed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from harness.engine.context import RunContext
from harness.engine.events import Event, StepEnded, StepStarted, now
from harness.engine.human import HumanInput
from harness.engine.results import StepResult, StepStatus
from harness.errors import StepFailed
from harness.runbook import actions
from harness.runbook.retry import RetryPolicy, run
from harness.spec.models import OnFailure, RunbookSpec, StepSpec


@dataclass(frozen=True)
class RunbookOutcome:
    steps: tuple[StepResult, ...]

    @property
    def ok(self) -> bool:
        return all(s.status is StepStatus.OK for s in self.steps)

    @property
    def first_failure(self) -> StepResult | None:
        return next((s for s in self.steps if s.status is StepStatus.FAILED), None)


def execute(runbook: RunbookSpec, ctx: RunContext, emit: Callable[[Event], None],
            human: HumanInput | None = None) -> RunbookOutcome:
    results: list[StepResult] = []
    aborted = False
    for step in runbook.steps:
        if aborted:
            results.append(StepResult(step.name, step.action, StepStatus.SKIPPED, None, None, None, 0,
                                      detail="skipped after an earlier failure", manual=step.manual, verify=step.verify))
            continue
        result = _run_step(step, ctx, emit, human)
        results.append(result)
        if result.status is StepStatus.FAILED and step.on_failure is OnFailure.ABORT:
            aborted = True
    return RunbookOutcome(tuple(results))


def _run_step(step: StepSpec, ctx: RunContext, emit: Callable[[Event], None], human: HumanInput | None) -> StepResult:
    emit(StepStarted(step.name, step.action, step.manual))
    started_at, t0 = now(), time.perf_counter()
    attempts, detail, error = 0, "", None
    try:
        if step.manual and human is not None:
            attempts = 1
            answer = human.confirm(step.name, step.instructions or step.name, step.timeout)
            if answer.value != "done":
                raise StepFailed(f"person answered {answer.text!r}" if answer.value else f"no confirmation within {step.timeout:g}s")
            detail = "confirmed by a person"
        else:
            action = actions.get(step.action)
            if action is None:
                raise StepFailed(f"unknown action {step.action!r}")
            params = action.params.model_validate(ctx.render(step.params))
            policy = RetryPolicy(step.retry.attempts, step.retry.backoff, step.retry.max_backoff, step.timeout)
            outcome = run(lambda: action.run(ctx, params), policy)
            attempts = outcome.attempts
            if outcome.error is not None:
                raise StepFailed(str(outcome.error) or type(outcome.error).__name__)
            detail = str(outcome.value or "")
    except StepFailed as exc:
        error = str(exc)
    except Exception as exc:  # a step must never take the run down with it; the failure is recorded
        error = f"{type(exc).__name__}: {exc}"
    finally:
        ended_at = now()
        result = StepResult(step.name, step.action, StepStatus.FAILED if error else StepStatus.OK, started_at,
                            ended_at, round(time.perf_counter() - t0, 4), max(attempts, 1), detail, error,
                            step.manual, step.verify)
    emit(StepEnded(result))
    return result
