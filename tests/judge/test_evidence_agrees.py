"""Evidence that adds up: a sequential check's interval is the confidence sequence of the parameter it
tests, at the same alpha, so "rejected" and "the interval excludes no effect" (a ratio of 1) agree;
and a check never decides on fewer samples than its ``min_samples``.

Closed forms where there are any (one event a bin, and it the candidate's; every request an event), the
monotonicity the bisection relies on on a grid, and agreement and coverage on simulated runs.
"""

from __future__ import annotations

import itertools
import math
import random

import pytest

from harness.judge import conditional as cd
from harness.judge import sequential as sq
from harness.judge import two_sample as ts
from harness.judge.analysis import SampleSplit, sequential_check
from harness.spec.models import CompareCheck
from harness.traffic.generator import Sample


def single_event_bins_e(m: int, ec: int, eb: int, psi0: float, steps: tuple[int, ...]) -> float:
    """m bins, each with one event and it the candidate's: FNCH(1; psi) = ec psi / (ec psi + eb), so
    E(psi0) = mean over the prior of [psi (ec psi0 + eb) / (psi0 (ec psi + eb))]^m with psi = psi0 e^(0.1 k)."""
    total = 0.0
    for k in steps:
        psi = psi0 * math.exp(cd.H * k)
        total += (psi * (ec * psi0 + eb) / (psi0 * (ec * psi + eb))) ** m
    return total / len(steps)


@pytest.mark.parametrize("m", [1, 4, 9])
def test_the_conditional_e_value_matches_its_closed_form(m: int) -> None:
    for prior in ("large", "small"):
        out = cd.test([(1, 3, 22, 1)] * m, 0.01, prior, with_cs=False)
        assert out.e_value == pytest.approx(single_event_bins_e(m, 3, 22, 1.0, cd.PRIORS[prior]), rel=1e-9)


def test_the_lower_end_is_the_last_excluded_grid_point() -> None:
    # Nine bins, each one event and it the candidate's: E(psi0) in closed form above; the lower end is the
    # largest grid point log psi0 = 0.1 i where E(psi0) >= 1/alpha (conservative: the next one is inside).
    alpha, steps = 0.01, cd.PRIORS["large"]
    out = cd.test([(1, 3, 22, 1)] * 9, alpha)
    assert out.e_value >= 1 / alpha and out.lower is not None and out.lower > 1
    assert single_event_bins_e(9, 3, 22, out.lower, steps) >= 1 / alpha
    assert single_event_bins_e(9, 3, 22, out.lower * math.exp(cd.H), steps) < 1 / alpha


def test_the_two_sample_e_value_matches_its_closed_form() -> None:
    # Every candidate request an event, no stable one: Jeffreys mixtures over the pooled likelihood.
    for n, m in ((3, 20), (8, 60), (20, 200)):
        mix = math.exp(ts.log_beta(n + 0.5, 0.5) + ts.log_beta(0.5, m + 0.5) - 2 * ts.log_beta(0.5, 0.5))
        p = n / (n + m)
        assert ts.e_value(n, n, 0, m) == pytest.approx(mix / (p**n * (1 - p) ** m), rel=1e-9)


@pytest.mark.parametrize("bins", [[(1, 3, 22, 1)] * 5, [(2, 4, 20, 3), (0, 2, 23, 1), (1, 3, 22, 2)] * 6,
                                  [(0, 3, 20, 2)] * 10])
def test_the_e_value_falls_as_the_null_rises(bins: list[tuple[int, int, int, int]]) -> None:
    table = cd.collect(bins)
    loglik = cd.profile(table, -cd.SPAN, cd.SPAN + cd.K)
    for steps in cd.PRIORS.values():
        values = [cd._log_e(loglik, i, steps) for i in range(2 * cd.SPAN + 1)]
        assert all(a >= b - 1e-9 for a, b in itertools.pairwise(values))


def _agrees(out: sq.SequentialOutcome) -> bool:
    assert out.lower is not None and out.upper is None
    return out.rejected == (out.lower > sq.NO_EFFECT)


def _canary_bins(rng: random.Random, share: float, p_c: float, p_b: float, bins: int,
                 per_bin: int = 25) -> list[tuple[int, int, int, int]]:
    out = []
    for _ in range(bins):
        x = ec = eb = k = 0
        for _ in range(per_bin):
            cand = rng.random() < share
            hit = rng.random() < (p_c if cand else p_b)
            ec, eb, k, x = ec + cand, eb + (not cand), k + hit, x + (hit and cand)
        out.append((x, ec, eb, k))
    return out


def test_rejected_and_the_interval_agree_on_simulated_canaries() -> None:
    rng, looks, rejections = random.Random(21), 0, 0
    for _ in range(40):
        share = rng.choice([0.05, 0.1, 0.2, 0.5])
        base, worse = rng.uniform(0.0, 0.1), rng.choice([1.0, 1.0, 2.0, 5.0, 20.0])
        bins = _canary_bins(rng, share, min(1.0, base * worse), base, 24)
        for look in range(2, 25, 2):
            out = sq.concurrent_test(bins[:look], 0.01, 0.1)
            looks += 1
            rejections += out.rejected
            assert _agrees(out), (bins[:look], out)
            assert out.not_worse == (out.excess_upper is not None and out.excess_upper < out.margin)
    assert looks > 400 and rejections > 40  # both outcomes were seen many times


def test_rejected_and_the_interval_agree_on_simulated_switches() -> None:
    rng, rejections = random.Random(22), 0
    for _ in range(50):
        base = rng.uniform(0.0, 0.1)
        rate = min(1.0, base * rng.choice([1.0, 1.0, 3.0, 10.0]) + rng.choice([0.0, 0.05]))
        bn = rng.choice([50, 150, 400])
        bx = sum(rng.random() < base for _ in range(bn))
        cx = 0
        for cn in range(1, 301):
            cx += rng.random() < rate
            if cn % 20 == 0:
                out = sq.pre_deploy_test(cx, cn, bx, bn, 0.01)
                rejections += out.rejected
                assert _agrees(out), (cx, cn, bx, bn, out)
                assert out.not_worse == (out.excess_upper is not None and out.excess_upper < out.margin)
    assert rejections > 15


def test_the_interval_covers_the_true_odds_ratio_at_every_look_at_least_one_minus_alpha_of_the_time() -> None:
    # A confidence sequence: the true odds ratio stays above the lower end at every look, in >= 1 - alpha of runs.
    rng, alpha, runs, missed = random.Random(23), 0.1, 150, 0
    p_b, p_c = 0.05, 0.10
    psi = (p_c / (1 - p_c)) / (p_b / (1 - p_b))
    for _ in range(runs):
        bins = _canary_bins(rng, 0.2, p_c, p_b, 24)
        for look in range(3, 25, 3):
            lower = cd.test(bins[:look], alpha).lower
            if lower is not None and lower > psi:
                missed += 1
                break
    assert missed / runs <= alpha


def _sample(version: str, bad: bool, at: float) -> Sample:
    return Sample(at, 503 if bad else 200, version, 0.01, None, False, None)


def test_a_check_never_decides_below_its_min_samples() -> None:
    check = CompareCheck(name="errors", measure="error", min_samples=20)
    for n in range(1, 40):  # every candidate request fails: the e-value crosses long before 20 samples
        candidate = tuple(_sample("v2", True, float(i)) for i in range(n))
        stable = tuple(_sample("v1", False, float(i)) for i in range(9 * n))
        evidence = sequential_check(check, SampleSplit(stable, candidate, stable, 0.1, "stable since deploy"), 0.01)
        if n < 20:
            assert evidence.verdict == "inconclusive" and not evidence.breached and evidence.lower is None
        else:
            assert evidence.verdict == "fail" and evidence.breached
            assert evidence.lower is not None and evidence.lower > 1
    early = sequential_check(check, SampleSplit(stable[:90], candidate[:10], (), 0.1, "stable since deploy"), 0.01)
    assert early.e_value is not None and early.e_value >= early.threshold  # it would have fired: the guard held it


def test_a_latency_check_with_five_samples_does_not_fire() -> None:
    check = CompareCheck(name="slow", measure="latency", min_samples=20)
    reference = tuple(Sample(float(i), 200, "v1", 0.01 + i * 1e-4, None, False, None) for i in range(200))
    candidate = tuple(Sample(300.0 + i, 200, "v2", 5.0, None, False, None) for i in range(5))
    evidence = sequential_check(check, SampleSplit(reference, candidate, reference, 1.0, "pre-deploy window"), 0.01)
    assert evidence.verdict == "inconclusive" and not evidence.breached
    assert math.isfinite(evidence.e_value or 0.0)
