"""The anytime-valid statistics (harness.judge.sequential) against closed forms, numerical integration and
simulation: type-I error with a look after every observation stays at most alpha; power on a known effect."""

from __future__ import annotations

import math
import random
from collections.abc import Callable

import pytest

from harness.judge import sequential as sq


def integrate(f: Callable[[float], float], lo: float, hi: float, n: int = 4000) -> float:
    """Composite Simpson's rule (n even)."""
    h = (hi - lo) / n
    total = f(lo) + f(hi) + sum((4 if k % 2 else 2) * f(lo + k * h) for k in range(1, n))
    return float(total * h / 3)


@pytest.mark.parametrize(("a", "b", "x"), [(1, 1, 0.3), (2, 5, 0.2), (3.5, 1.2, 0.7), (10, 40, 0.1), (30, 3, 0.95),
                                           (1, 200, 0.02)])
def test_incomplete_beta_matches_numerical_integration(a: float, b: float, x: float) -> None:
    def density(t: float) -> float:
        return float(t ** (a - 1) * (1 - t) ** (b - 1) / math.exp(sq.log_beta(a, b)))

    assert sq.betainc(a, b, x) == pytest.approx(integrate(density, 0.0, x), rel=1e-6, abs=1e-12)


def test_incomplete_beta_closed_forms() -> None:
    assert sq.betainc(1, 1, 0.37) == pytest.approx(0.37)
    assert sq.betainc(1, 7, 0.2) == pytest.approx(1 - 0.8**7)  # I_x(1, b) = 1 - (1-x)^b
    assert sq.betainc(4, 1, 0.6) == pytest.approx(0.6**4)  # I_x(a, 1) = x^a
    assert math.exp(sq.log_betainc_upper(2, 300, 0.5)) == pytest.approx(301 * 0.5**300 + 0.5**300, rel=1e-6)


def test_one_sided_mixture_by_hand() -> None:
    # Uniform prior on (1/2, 1], one success and one failure: (∫ t(1-t) dt over (1/2, 1]) / (1/2) / (1/2)^2 = 2/3
    assert sq.one_sided_e_value(1, 2, 0.5) == pytest.approx(2 / 3)
    # All n events from the candidate, uniform prior on (rho, 1]: (1 - rho^(n+1)) / ((n+1)(1-rho) rho^n)
    for n in range(1, 8):
        rho = 0.1
        assert sq.share_e_value(n, n, rho) == pytest.approx((1 - rho ** (n + 1)) / ((n + 1) * (1 - rho) * rho**n))
    assert sq.one_sided_e_value(0, 0, 0.3) == pytest.approx(1.0)  # nothing seen, no evidence


@pytest.mark.parametrize(("x", "n", "p0", "prior"), [(3, 10, 0.1, (2.0, 18.0)), (0, 12, 0.2, (1.0, 1.0)),
                                                    (7, 9, 0.4, (0.5, 2.0)), (20, 60, 0.25, (3.0, 2.0))])
def test_one_sided_mixture_matches_numerical_integration(x: int, n: int, p0: float, prior: tuple[float, float]) -> None:
    a, b = prior
    def dens(t: float) -> float:
        return float(t ** (a - 1) * (1 - t) ** (b - 1))

    mass = integrate(dens, p0, 1.0 - 1e-9, 20000)
    num = integrate(lambda t: dens(t) * (t / p0) ** x * ((1 - t) / (1 - p0)) ** (n - x), p0, 1.0 - 1e-9, 20000)
    assert sq.one_sided_e_value(x, n, p0, (prior,)) == pytest.approx(num / mass, rel=1e-4)


def test_averaged_priors_average_the_e_values() -> None:
    one = sq.one_sided_e_value(4, 9, 0.2, ((1.0, 1.0),))
    two = sq.one_sided_e_value(4, 9, 0.2, ((4.0, 16.0),))
    assert sq.one_sided_e_value(4, 9, 0.2, ((1.0, 1.0), (4.0, 16.0))) == pytest.approx((one + two) / 2)


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError):
        sq.one_sided_e_value(5, 3, 0.1)
    with pytest.raises(ValueError):
        sq.one_sided_e_value(1, 3, 1.0)
    with pytest.raises(ValueError):
        sq.clopper_pearson_upper(4, 3, 0.05)


def test_clopper_pearson_upper_against_closed_form_and_binomial_tail() -> None:
    assert sq.clopper_pearson_upper(0, 150, 0.005) == pytest.approx(1 - 0.005 ** (1 / 150))
    assert sq.clopper_pearson_upper(5, 5, 0.05) == 1.0
    k, n, alpha = 3, 40, 0.05
    u = sq.clopper_pearson_upper(k, n, alpha)
    cdf = sum(math.comb(n, j) * u**j * (1 - u) ** (n - j) for j in range(k + 1))
    assert cdf == pytest.approx(alpha, rel=1e-6)  # P(Bin(n, u) <= k) = alpha at the bound


def test_confidence_sequence_edges_are_where_the_mixture_crosses() -> None:
    x, n, alpha = 7, 120, 0.01
    lo, hi = sq.rate_cs(x, n, alpha)
    assert lo < x / n < hi
    for edge in (lo, hi):  # Beta(1/2, 1/2) two-sided mixture = 1/alpha at both ends
        log_e = sq.log_beta(0.5 + x, 0.5 + n - x) - sq.log_beta(0.5, 0.5) - x * math.log(edge) - (n - x) * math.log1p(-edge)
        assert log_e == pytest.approx(math.log(1 / alpha), abs=1e-6)
    assert sq.rate_cs(0, 50, 0.01)[0] == 0.0 and sq.rate_cs(50, 50, 0.01)[1] == 1.0
    wide, narrow = sq.rate_cs(1, 20, 0.01), sq.rate_cs(50, 1000, 0.01)
    assert narrow[1] - narrow[0] < wide[1] - wide[0]


def test_confidence_sequence_covers_the_true_rate_at_every_look() -> None:
    rng, alpha, p, misses = random.Random(3), 0.05, 0.08, 0
    for _ in range(300):
        x = 0
        for n in range(1, 301):
            x += rng.random() < p
            if n % 10 == 0:
                lo, hi = sq.rate_cs(x, n, alpha)
                if not lo <= p <= hi:
                    misses += 1
                    break
    assert misses / 300 <= alpha


def _crosses(stream: list[bool], share: float, threshold: float) -> bool:
    """Peek after every event: does the share e-process ever reach the threshold?"""
    x = 0
    for n, hit in enumerate(stream, start=1):
        x += hit
        if sq.share_e_value(x, n, share) >= threshold:
            return True
    return False


@pytest.mark.parametrize(("share", "true_share"), [(0.1, 0.1), (0.5, 0.5), (0.1, 0.05)])
def test_type_one_error_with_a_look_after_every_event(share: float, true_share: float) -> None:
    # alpha = 0.1 so that a few hundred streams can show a violation; the bound holds at any alpha.
    rng, alpha, streams = random.Random(11), 0.1, 400
    crossed = sum(_crosses([rng.random() < true_share for _ in range(300)], share, 1 / alpha) for _ in range(streams))
    # Ville: P(ever >= 1/alpha) <= alpha; allow three binomial standard errors of Monte Carlo slack
    assert crossed / streams <= alpha + 3 * math.sqrt(alpha * (1 - alpha) / streams)


def test_fixed_sample_test_at_every_look_does_not_control_the_error() -> None:
    """The peeking problem the sequential test exists for: a one-sided z-test at level 0.1 after every event
    rejects a true null far more often than 10 % over 300 looks (so the test above could fail)."""
    rng, share, streams, crossed = random.Random(5), 0.1, 400, 0
    for _ in range(streams):
        x = 0
        for n in range(1, 301):
            x += rng.random() < share
            if n >= 10 and (x - n * share) / math.sqrt(n * share * (1 - share)) > 1.2816:
                crossed += 1
                break
    assert crossed / streams > 0.3


def test_power_on_a_known_effect() -> None:
    # An error slice: the candidate (10 % of traffic) has 60 % of the events; caught within 15 events almost always
    rng, caught = random.Random(7), 0
    for _ in range(200):
        caught += _crosses([rng.random() < 0.6 for _ in range(15)], 0.1, 100.0)
    assert caught / 200 >= 0.95


def test_concurrent_test_reports_the_effect_and_its_confidence_sequence() -> None:
    out = sq.concurrent_test(cx=12, cn=50, bx=9, bn=450, share=0.1, alpha=0.01)
    assert out.rejected and out.e_value == pytest.approx(sq.share_e_value(12, 21, 0.1))
    assert out.effect == pytest.approx((12 / 50) / (9 / 450))  # the rate ratio
    assert out.lower is not None and out.effect is not None and out.upper is None  # one-sided, as the test
    assert 1 < out.lower < out.effect
    assert out.p_value == pytest.approx(1 / out.e_value)
    quiet = sq.concurrent_test(cx=1, cn=50, bx=9, bn=450, share=0.1, alpha=0.01)
    assert not quiet.rejected and quiet.p_value <= 1.0


def test_pre_deploy_test_type_one_error_by_simulation() -> None:
    """A 100 % switch to a version as good as the baseline: the bound on the baseline plus the e-process
    against it rolls back at most alpha of the time, looking after every request."""
    rng, alpha, runs, false = random.Random(13), 0.1, 300, 0
    for _ in range(runs):
        p = 0.03
        bx = sum(rng.random() < p for _ in range(150))
        p0 = sq.clopper_pearson_upper(bx, 150, alpha / 2)
        x = 0
        for n in range(1, 601):
            x += rng.random() < p
            if n % 5 == 0 and sq.rate_e_value(x, n, p0) >= 2 / alpha:
                false += 1
                break
    assert false / runs <= alpha
    assert sq.pre_deploy_test(cx=30, cn=100, bx=3, bn=150, alpha=0.01).rejected  # a 30 % slice against 2 %
    assert not sq.pre_deploy_test(cx=0, cn=0, bx=3, bn=150, alpha=0.01).rejected
