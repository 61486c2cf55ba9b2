"""Evidence that adds up: a sequential check's interval is the confidence sequence of the parameter it
tests, at the same alpha, so "rejected" and "the interval excludes no effect" (a rate ratio of 1) agree;
and a check never decides on fewer samples than its ``min_samples``.

Closed forms where there are any (the flat-prior e-value when every event is the candidate's), the
monotonicity the bisection relies on on a grid, and agreement and coverage on simulated runs.
"""

from __future__ import annotations

import itertools
import math
import random

import pytest

from harness.judge import sequential as sq
from harness.judge.analysis import SampleSplit, sequential_check
from harness.spec.models import CompareCheck
from harness.traffic.generator import Sample


def closed_form_all_candidate(n: int, q: float) -> float:
    """E against "share <= q" when all n events are the candidate's: the flat prior on (q, 1] gives
    (1 - q^(n+1)) / ((n + 1)(1 - q) q^n)."""
    return (1 - q ** (n + 1)) / ((n + 1) * (1 - q) * q**n)


@pytest.mark.parametrize("n", [3, 8, 20])
def test_the_share_e_value_matches_its_closed_form(n: int) -> None:
    for q in (0.05, 0.1, 0.3, 0.6):
        assert sq.share_e_value(n, n, q) == pytest.approx(closed_form_all_candidate(n, q), rel=1e-9)


def test_the_lower_end_solves_the_closed_form_at_the_threshold() -> None:
    # All 12 events from a 10 % canary: the share's lower end L solves E(L) = 1/alpha (closed form above).
    n, share, alpha = 12, 0.1, 0.01
    out = sq.concurrent_test(n, 60, 0, 540, share, alpha)
    assert out.rejected and out.lower is not None
    q = out.lower * share / (1 - share + out.lower * share)  # the ratio back to the share
    assert closed_form_all_candidate(n, q) == pytest.approx(1 / alpha, rel=1e-6)


@pytest.mark.parametrize(("x", "n"), [(3, 10), (12, 21), (40, 100), (7, 7)])
def test_the_e_value_falls_as_the_null_rises_towards_the_observed_rate(x: int, n: int) -> None:
    grid = [i / 400 * x / n for i in range(1, 400)]
    values = [sq.share_e_value(x, n, q) for q in grid]
    assert all(a >= b * (1 - 1e-9) for a, b in itertools.pairwise(values))


def _agrees(out: sq.SequentialOutcome) -> bool:
    assert out.lower is not None and out.upper is None
    return out.rejected == (out.lower > sq.NO_EFFECT)


def test_rejected_and_the_interval_agree_on_simulated_canaries() -> None:
    rng, looks, rejections = random.Random(21), 0, 0
    for _ in range(150):
        share = rng.choice([0.05, 0.1, 0.2, 0.5])
        base, worse = rng.uniform(0.0, 0.1), rng.choice([1.0, 1.0, 2.0, 5.0, 20.0])
        cx = cn = bx = bn = 0
        for step in range(1, 601):
            if rng.random() < share:
                cn += 1
                cx += rng.random() < min(1.0, base * worse)
            else:
                bn += 1
                bx += rng.random() < base
            if step % 20 == 0 and cn and bn:
                out = sq.concurrent_test(cx, cn, bx, bn, share, 0.01)
                looks += 1
                rejections += out.rejected
                assert _agrees(out), (cx, cn, bx, bn, share, out)
    assert looks > 2000 and rejections > 100  # both outcomes were seen many times


def test_rejected_and_the_interval_agree_on_simulated_switches() -> None:
    rng, rejections = random.Random(22), 0
    for _ in range(150):
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
    assert rejections > 50


def test_the_interval_covers_the_true_ratio_at_every_look_at_least_one_minus_alpha_of_the_time() -> None:
    # A confidence sequence: the true rate ratio stays above the lower end at every look, in >= 1 - alpha of runs.
    rng, alpha, runs, missed = random.Random(23), 0.1, 200, 0
    share, base, ratio = 0.2, 0.05, 2.0
    for _ in range(runs):
        cx = cn = bx = bn = 0
        for step in range(1, 601):
            if rng.random() < share:
                cn += 1
                cx += rng.random() < base * ratio
            else:
                bn += 1
                bx += rng.random() < base
            if step % 30 == 0 and cn and bn:
                lower = sq.concurrent_test(cx, cn, bx, bn, share, alpha).lower
                if lower is not None and lower > ratio:
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
