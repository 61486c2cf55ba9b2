"""The canary's two-sample tests when the two arms' exposures differ (harness.judge.conditional decides "worse",
harness.judge.two_sample shows "not worse by more than the margin"), by simulation, and what a look's
PASS means.

The case that broke the share-based null (issue 26, finding 4): the stable version fails 20 % of its
requests, the candidate none, answers are equally slow. Latency is judged on answered requests, so the
candidate's share of slow answers exceeds its traffic share although it is no slower: a test of the share
against the router's weight rolls it back more and more often the longer it looks.
"""

from __future__ import annotations

import math
import random

from harness.judge import analysis, conditional, sequential, two_sample
from harness.judge.analysis import SampleSplit
from harness.outcomes import Verdict
from harness.spec.models import CompareCheck
from harness.traffic.generator import Sample


def _slack(alpha: float, runs: int) -> float:
    return alpha + 3 * math.sqrt(alpha * (1 - alpha) / runs)  # three binomial standard errors of Monte Carlo slack


def _errors_less_run(rng: random.Random, alpha: float, bins: int) -> tuple[bool, bool]:
    """One canary at 10 % looked at every bin: (the conditional test rejected, the old share test rejected)."""
    running = conditional.Running("large")
    slow_c = slow_b = 0
    bound = math.log(1 / alpha)
    new = old = False
    for _ in range(bins):
        x = ec = eb = k = 0
        for _ in range(25):
            cand = rng.random() < 0.1
            if not cand and rng.random() < 0.2:
                continue  # a stable error: not exposed to the latency measure
            slow = rng.random() < 0.1
            ec, eb, k, x = ec + cand, eb + (not cand), k + slow, x + (slow and cand)
        running.add((x, ec, eb, k))
        slow_c, slow_b = slow_c + x, slow_b + k - x
        new = new or running.log_e() >= bound
        old = old or sequential.one_sided_e_value(slow_c, slow_c + slow_b, 0.1) >= 1 / alpha
        if new and old:
            break
    return new, old


def test_a_candidate_erring_less_is_not_rolled_back_on_latency() -> None:
    rng, alpha, runs = random.Random(31), 0.05, 120
    outcomes = [_errors_less_run(rng, alpha, 480) for _ in range(runs)]  # 240 s each
    new = sum(n for n, _ in outcomes) / runs
    old = sum(o for _, o in outcomes) / runs
    assert new <= _slack(alpha, runs)
    assert old > 3 * alpha and old > 2 * new  # the share-based null this replaced: far above alpha


def test_type_one_error_at_the_boundary_with_a_look_after_every_bin() -> None:
    # Equal rates, a 10 % canary, looked at after every bin: P(ever E >= 1/alpha) <= alpha (Ville).
    rng, alpha, runs, crossed = random.Random(32), 0.1, 200, 0
    for _ in range(runs):
        running = conditional.Running("small")
        for _ in range(200):
            x = ec = eb = k = 0
            for _ in range(25):
                cand, hit = rng.random() < 0.1, rng.random() < 0.05
                ec, eb, k, x = ec + cand, eb + (not cand), k + hit, x + (hit and cand)
            running.add((x, ec, eb, k))
            if running.log_e() >= math.log(1 / alpha):
                crossed += 1
                break
    assert crossed / runs <= _slack(alpha, runs)


def test_not_worse_is_rarely_shown_for_a_candidate_worse_by_the_margin() -> None:
    # The candidate's rate is exactly the baseline's plus the margin: "not worse" may be shown at most alpha of runs.
    rng, alpha, margin, runs, passed = random.Random(33), 0.1, 0.1, 150, 0
    for _ in range(runs):
        cx = cn = bx = bn = 0
        for _look in range(40):
            for _ in range(25):
                if rng.random() < 0.2:
                    cn, cx = cn + 1, cx + (rng.random() < 0.15)
                else:
                    bn, bx = bn + 1, bx + (rng.random() < 0.05)
            if cn and bn and two_sample.log_e_not_worse(cx, cn, bx, bn, margin) >= math.log(1 / alpha):
                passed += 1
                break
    assert passed / runs <= _slack(alpha, runs)


def test_a_good_candidate_is_shown_not_worse_and_the_bound_agrees() -> None:
    # 0 errors in 300 candidate requests, 6 in 2,700 stable ones: worse by at most a few points, at alpha 0.01.
    assert two_sample.log_e_not_worse(0, 300, 6, 2700, 0.05) >= math.log(100)
    upper = two_sample.upper_end(0, 300, 6, 2700, 0.01, 0.05)
    assert 0 < upper < 0.05
    assert two_sample.log_e_not_worse(0, 300, 6, 2700, upper * 1.01) >= math.log(100)
    assert two_sample.log_e_not_worse(0, 300, 6, 2700, upper * 0.99) < math.log(100)
    # with no stable request at all nothing can be shown
    assert not sequential.concurrent_test([(0, 30, 0, 0)], 0.01, 0.1).not_worse


def _split(cand_bad: int, cand_n: int, stable_bad: int, stable_n: int) -> SampleSplit:
    def sample(version: str, i: int, bad: bool) -> Sample:
        return Sample(i * 0.02, 503 if bad else 200, version, 0.01, None, False, None)

    candidate = tuple(sample("v2", i, i < cand_bad) for i in range(cand_n))
    stable = tuple(sample("v1", i, i < stable_bad) for i in range(stable_n))
    return SampleSplit(stable, candidate, stable, cand_n / (cand_n + stable_n), analysis.CONCURRENT)


def test_a_look_passes_only_when_the_candidate_is_shown_not_worse() -> None:
    check = CompareCheck(name="errors", measure="error", min_samples=20)
    assert check.margin == 0.1  # the documented default
    # past min_samples, not rejected, but 40 samples cannot show "at most 10 points worse": inconclusive
    few = analysis.sequential_check(check, _split(1, 40, 8, 360), 0.01)
    assert few.verdict == Verdict.INCONCLUSIVE and few.excess_upper is not None and few.excess_upper >= 0.1
    many = analysis.sequential_check(check, _split(4, 400, 36, 3600), 0.01)
    assert many.verdict == Verdict.PASS and many.excess_upper is not None and many.excess_upper < 0.1
    assert many.margin == 0.1
    worse = analysis.sequential_check(check, _split(60, 400, 36, 3600), 0.01)
    assert worse.verdict == Verdict.FAIL
    # a wider margin is shown sooner
    wide = CompareCheck(name="errors", measure="error", min_samples=20, margin=0.3)
    assert analysis.sequential_check(wide, _split(1, 40, 8, 360), 0.01).verdict == Verdict.PASS


def test_mann_whitney_passes_only_on_non_inferiority_too() -> None:
    check = CompareCheck(name="errors", measure="error", method="mann-whitney", min_samples=20)
    split = _split(1, 40, 8, 360)
    assert analysis.compare_check(check, split.baseline, split.candidate, 0.001).verdict == Verdict.INCONCLUSIVE
    split = _split(4, 800, 36, 3600)
    assert analysis.compare_check(check, split.baseline, split.candidate, 0.001).verdict == Verdict.PASS
