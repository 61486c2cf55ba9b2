"""Simulated rollbacks through the real ``verify.error_rate`` step (the runbook executor, its retry policy and
deadline), for bench_judge.py and tests/test_verify_error_rate.py.

The seam is the load generator: ``SimulatedLoad`` is a LoadGenerator that sends nothing and, asked for its
samples, returns the requests a 50 req/s load would have sent over the step's whole deadline at once, each
failing with the after-rollback error rate. The step looks at them in the order sent, every few requests,
and stops at its first decisive look, as it does on live traffic; only the waiting is skipped (the deadline
is the requests a live load sends in it; an undecided step fails at a short real timeout).
"""

from __future__ import annotations

import random
import time

from harness.engine.context import RunContext
from harness.ports import Target
from harness.runbook import executor as runbook
from harness.spec.models import RunbookSpec
from harness.traffic.generator import LoadGenerator, Sample

RATE = 50.0  # requests per second, the catalogue's traffic
DEADLINE_S = 20.0  # the step's deadline in these runs, as the requests a live load sends in it
WALL_S = 1.0  # the step's real timeout here: every sample is there at once, so an undecided step ends soon
BASELINE_S = 30.0  # the quarterly profile's baseline (the ci profile's 3 s cannot tell 3 % from 0 %)


class SimulatedLoad(LoadGenerator):
    """A load generator whose samples are drawn, not sent: ``requests`` of them, each failing with ``error_rate``."""

    def __init__(self, rng: random.Random, error_rate: float, requests: int, version: str = "v1") -> None:
        self._drawn = [rng.random() < error_rate for _ in range(requests)]
        self._version = version
        self._t0: float | None = None

    def samples(self) -> list[Sample]:
        if self._t0 is None:
            self._t0 = time.time()
        return [Sample(self._t0 + i / RATE, 503 if bad else 200, None if bad else self._version, 0.01, None, False, None)
                for i, bad in enumerate(self._drawn)]


def verify_step(timeout_s: float = WALL_S, attempts: int = 3) -> RunbookSpec:
    """The catalogue's verification step (retries included: a failed verification must not be re-rolled)."""
    return RunbookSpec.model_validate({"name": "verify", "steps": [
        {"name": "verify-error-rate", "action": "verify.error_rate", "verify": True, "timeout": f"{timeout_s:g}s",
         "params": {"min_requests": 40, "expect_version": "v1", "probe": 0}, "retry": {"attempts": attempts, "backoff": "1ms"}}]})


def rollback(rng: random.Random, baseline_rate: float, after_rate: float, baseline_s: float = BASELINE_S,
             target: Target | None = None) -> tuple[bool, str, int]:
    """One simulated rollback verified by the real step: (passed, the step's line, attempts)."""
    base_n = int(baseline_s * RATE)
    base_x = sum(rng.random() < baseline_rate for _ in range(base_n))
    load = SimulatedLoad(rng, after_rate, int(DEADLINE_S * RATE))
    ctx = RunContext(target=target, load=load, emit=lambda e: None, variables={},  # type: ignore[arg-type]
                     baseline_error_rate=base_x / base_n, baseline_requests=base_n)
    out = runbook.execute(verify_step(), ctx, lambda e: None)
    step = out.steps[0]
    return out.ok, step.detail or step.error or "", step.attempts


def pass_rates(rng: random.Random, runs: int) -> dict[str, object]:
    """``verify_error_rate.{leftover_3pct, good_background_2pct}``: pass rates over ``runs`` rollbacks each."""
    def rate(baseline: float, after: float, baseline_s: float = BASELINE_S) -> float:
        return round(sum(rollback(rng, baseline, after, baseline_s)[0] for _ in range(runs)) / runs, 4) if runs else 0.0

    few = max(1, runs // 8)  # undecided runs wait for the real timeout: fewer of them
    ci = round(sum(rollback(rng, 0.0, 0.03, 3.0)[0] for _ in range(few)) / few, 4) if runs else 0.0
    return {"leftover_3pct": rate(0.0, 0.03), "good_background_2pct": rate(0.02, 0.02), "runs": runs,
            "leftover_3pct_ci_baseline_3s": {"pass_rate": ci, "runs": few if runs else 0},
            "setup": {"rate": RATE, "deadline_s": DEADLINE_S, "baseline_s": BASELINE_S, "tolerance": 0.05, "alpha": 0.01}}
