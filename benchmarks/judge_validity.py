"""False rollbacks of good candidates for bench_judge.py, with the judge the drills call (its e-processes, its
alpha split, its ``min_samples`` guards and its verdict function), over thousands of simulated canaries.

Each look bin (0.5 s, 25 requests at 50 req/s) is drawn from binomials (one uniform each, inverse CDF):
a 10 % canary, errors per arm, and on the answered requests slow answers (slower than the pre-deploy p90,
so 10 %) and wrong answers. Setups (issue 26):

* ``good-canary``       both versions 2 % errors, 10 % slow, 5 % wrong; looked at for 60 s.
* ``errors-less-600s``  the stable fails 20 % of its requests, the candidate none, equally slow and accurate;
                        looked at for 600 s (the case the share-based null got wrong).
* ``good-shadow``       the paired judge on mirrored traffic of a good candidate (bench_judge.paired_detect).
"""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Callable
from functools import lru_cache

from harness.judge import analysis, conditional, sequential, two_sample
from harness.outcomes import Verdict

BIN_S = 0.5
# (measure, prior, min_samples): the catalogue's checks and guards (canary-fail's errors and canary-latency's
# latency from 8 samples a side, canary-accuracy's wrong answers the default 20)
CHECKS = (("error", "large", 8), ("latency", "large", 8), ("incorrect", "small", 20))


@lru_cache(maxsize=4096)
def _cdf(n: int, p: float) -> tuple[float, ...]:
    out, total = [], 0.0
    for k in range(n + 1):
        total += math.comb(n, k) * p**k * (1 - p) ** (n - k)
        out.append(total)
    return tuple(out)


def binomial(rng: random.Random, n: int, p: float) -> int:
    if n == 0 or p <= 0.0:
        return 0
    if p >= 1.0:
        return n
    cdf = _cdf(n, p)
    return min(bisect.bisect_left(cdf, rng.random() * cdf[-1]), n)


class Looks:
    """The sequential judge over per-bin counts, check by check, as analysis.sequential_check decides."""

    def __init__(self, alpha: float, checks: tuple[tuple[str, str, int], ...] = CHECKS) -> None:
        self.alpha = alpha / len(checks)  # analysis.check_alpha: the drill's alpha split over its checks
        self.checks = checks
        self.running = [conditional.Running(prior) for _, prior, _ in checks]
        self.exposed = [[0, 0] for _ in checks]
        self.bins: list[list[conditional.Bin]] = [[] for _ in checks]

    def add(self, per_check: list[conditional.Bin]) -> None:
        for i, b in enumerate(per_check):
            self.running[i].add(b)
            self.exposed[i][0] += b[1]
            self.exposed[i][1] += b[2]
            self.bins[i].append(b)

    def failed(self) -> int | None:
        """The index of a check whose look is FAIL (analysis.look_verdict, guards included), or None."""
        for i, (_, _, min_samples) in enumerate(self.checks):
            e = math.exp(min(self.running[i].log_e(), 690.0))
            out = sequential.SequentialOutcome(e, self.alpha, None, None, None, None, None)
            if analysis.look_verdict(out, self.exposed[i][0], self.exposed[i][1], min_samples) == Verdict.FAIL:
                return i
        return None

    def interval_agrees(self, i: int) -> bool:
        """The reported interval of check i (the judge's own ``concurrent_test``) excludes no effect."""
        out = sequential.concurrent_test(self.bins[i], self.alpha, 0.1, self.checks[i][1])
        return out.rejected and out.lower is not None and out.lower > sequential.NO_EFFECT


def canary_bin(rng: random.Random, per_bin: int, weight: float, stable: tuple[float, float, float],
               cand: tuple[float, float, float]) -> list[conditional.Bin]:
    """One bin's (x, ec, eb, k) for errors, slow answers and wrong answers; rates are (error, slow, wrong)."""
    nc = binomial(rng, per_bin, weight)
    nb = per_bin - nc
    ec, eb = binomial(rng, nc, cand[0]), binomial(rng, nb, stable[0])
    ac, ab = nc - ec, nb - eb
    sc, sb = binomial(rng, ac, cand[1]), binomial(rng, ab, stable[1])
    wc, wb = binomial(rng, ac, cand[2]), binomial(rng, ab, stable[2])
    return [(ec, nc, nb, ec + eb), (sc, ac, ab, sc + sb), (wc, ac, ab, wc + wb)]


def false_rollback(rng: random.Random, seconds: float, alpha: float, rate: float, weight: float,
                   stable: tuple[float, float, float], cand: tuple[float, float, float]) -> bool:
    looks = Looks(alpha)
    per_bin = int(rate * BIN_S)
    for _ in range(int(seconds / BIN_S)):
        looks.add(canary_bin(rng, per_bin, weight, stable, cand))
        if looks.failed() is not None:
            return True
    return False


def time_to_pass(rng: random.Random, seconds: float, alpha: float, rate: float, weight: float,
                 margin: float = 0.1) -> float | None:
    """Seconds to the first look where every check of a good canary passes (shown not worse by ``margin``), or None."""
    looks = Looks(alpha)
    totals = [[0, 0, 0, 0] for _ in looks.checks]
    good = SETUPS["good-canary"][1]
    for i in range(int(seconds / BIN_S)):
        per_check = canary_bin(rng, int(rate * BIN_S), weight, good, good)
        looks.add(per_check)
        for t, (x, ec, eb, k) in zip(totals, per_check, strict=True):
            t[0], t[1], t[2], t[3] = t[0] + x, t[1] + ec, t[2] + k - x, t[3] + eb
        if looks.failed() is not None:
            return None
        if all(cn >= n and bn >= n and two_sample.log_e_not_worse(cx, cn, bx, bn, margin) >= math.log(1 / looks.alpha)
               for (cx, cn, bx, bn), (_, _, n) in zip(totals, looks.checks, strict=True)):
            return (i + 1) * BIN_S
    return None


SETUPS = {  # (seconds, stable (error, slow, wrong), candidate)
    "good-canary": (60.0, (0.02, 0.1, 0.05), (0.02, 0.1, 0.05)),
    "errors-less-600s": (600.0, (0.20, 0.1, 0.05), (0.0, 0.1, 0.05)),
}


def validity(rng: random.Random, runs: dict[str, int], alpha: float, rate: float, weight: float,
             shadow: Callable[[random.Random], bool]) -> dict[str, dict[str, float | int]]:
    """``validity.<setup>.{false_rollback_rate, runs}``; ``shadow(rng)`` says whether one good shadow was rolled back."""
    out: dict[str, dict[str, float | int]] = {}
    for name, (seconds, stable, cand) in SETUPS.items():
        n = runs.get(name, 0)
        false = sum(false_rollback(rng, seconds, alpha, rate, weight, stable, cand) for _ in range(n))
        out[name] = {"false_rollback_rate": round(false / n, 5) if n else math.nan, "runs": n}
    n = runs.get("good-shadow", 0)
    false = sum(shadow(rng) for _ in range(n))
    out["good-shadow"] = {"false_rollback_rate": round(false / n, 5) if n else math.nan, "runs": n}
    return out
