"""An exposure-aware two-sample sequential test: candidate events over candidate exposures against stable
events over stable exposures, with its confidence sequence for the difference of the two rates.

Each exposed request of an arm is a Bernoulli trial with that arm's rate (p_c for the candidate, p_b for
the stable version); the router picks the arm without looking at the outcome. The e-process is sequential
universal inference (Wasserman, Ramdas & Balakrishnan, PNAS 2020, section 7):

    E_n(H) = M_n / sup_{(p_c, p_b) in H} L_n(p_c, p_b)

with M_n the Bayes mixture (independent Jeffreys Beta(1/2, 1/2) priors, a closed form) and L_n the
likelihood. M_n / L_n(theta) is a nonnegative martingale under every theta, and the supremum in the
denominator is at least L_n(true theta) whenever the truth is in H, so P(sup_n E_n(H) >= 1/alpha) <= alpha
under H (Ville's inequality) however often the judge looks and whatever the two arms' exposures are: the
candidate erring less than the stable (fewer errors, so more answered requests to judge) changes nothing.
The share-based null it replaces (events split by traffic share) was wrong exactly then.

The judge decides "worse" with harness.judge.conditional (more power: no nuisance rate to pay for) and
uses this module for what only an absolute scale can show: that the candidate is *not worse* by more than
a margin, also when neither arm has had an event. Two families of nulls, indexed by delta = p_c - p_b:

* ``worse``:     H(delta) = {p_c - p_b <= delta}. At delta = 0 this is "the candidate is no worse"; the
  check fails when E(0) >= 1/alpha. E falls as delta rises (a larger null), so {delta : E(delta) < 1/alpha}
  is a half-line [lower, 1]: its lower end is above 0 exactly when the check failed.
* ``not_worse``: H'(delta) = {p_c - p_b >= delta}. The check passes (non-inferiority) when
  E'(margin) >= 1/alpha: the candidate is worse by less than the margin. Its upper end ``upper`` is below
  the margin exactly then.

The constrained maximum of the likelihood lies on the boundary p_c = p_b + delta when the unconstrained
one (the observed rates) is outside H; the log-likelihood is concave along that line, so one bisection
on its derivative finds it (a closed form at delta = 0: the pooled rate). Standard library only.
"""

from __future__ import annotations

import math


def log_beta(a: float, b: float) -> float:
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)

PRIOR = 0.5  # Jeffreys: much of its mass near 0, where error and wrong-answer rates live
_EPS = 1e-12
_LOG_CAP = math.log(1e300)


def _xlogy(x: float, y: float) -> float:
    return 0.0 if x == 0 else x * math.log(y) if y > 0 else -math.inf


def log_likelihood(x: int, n: int, p: float) -> float:
    """log p^x (1 - p)^(n - x), with 0 log 0 = 0."""
    return _xlogy(x, p) + _xlogy(n - x, 1.0 - p)


def log_mixture(x: int, n: int, a: float = PRIOR) -> float:
    """log of the Beta(a, a) mixture of the Bernoulli likelihood of x events in n trials."""
    return log_beta(a + x, a + n - x) - log_beta(a, a)


def _boundary_max(cx: int, cn: int, bx: int, bn: int, delta: float) -> float:
    """max over p_b of the log-likelihood on the line p_c = p_b + delta (concave in p_b)."""
    lo, hi = max(0.0, -delta), min(1.0, 1.0 - delta)
    if hi - lo <= 0:
        return log_likelihood(cx, cn, min(max(lo + delta, 0.0), 1.0)) + log_likelihood(bx, bn, lo)

    def slope(pb: float) -> float:
        pc = pb + delta
        return ((cx / pc if cx else 0.0) - ((cn - cx) / (1 - pc) if cn - cx else 0.0)
                + (bx / pb if bx else 0.0) - ((bn - bx) / (1 - pb) if bn - bx else 0.0))

    a, b = lo + _EPS, hi - _EPS
    if a >= b:
        pb = (lo + hi) / 2
    elif slope(a) <= 0:
        pb = lo
    elif slope(b) >= 0:
        pb = hi
    else:
        for _ in range(60):
            mid = (a + b) / 2
            if slope(mid) > 0:
                a = mid
            else:
                b = mid
        pb = (a + b) / 2
    return log_likelihood(cx, cn, min(max(pb + delta, 0.0), 1.0)) + log_likelihood(bx, bn, pb)


def _rates(cx: int, cn: int, bx: int, bn: int) -> tuple[float, float]:
    return (cx / cn if cn else 0.5), (bx / bn if bn else 0.5)


def log_e_worse(cx: int, cn: int, bx: int, bn: int, delta: float = 0.0) -> float:
    """log E against H(delta) = {p_c - p_b <= delta}."""
    pc, pb = _rates(cx, cn, bx, bn)
    mix = log_mixture(cx, cn) + log_mixture(bx, bn)
    if pc - pb <= delta:
        return mix - log_likelihood(cx, cn, pc) - log_likelihood(bx, bn, pb)
    if delta == 0.0:  # the pooled rate: the closed form, and the judge's hot path
        pooled = (cx + bx) / (cn + bn)
        return mix - log_likelihood(cx, cn, pooled) - log_likelihood(bx, bn, pooled)
    return mix - _boundary_max(cx, cn, bx, bn, delta)


def log_e_not_worse(cx: int, cn: int, bx: int, bn: int, delta: float) -> float:
    """log E against H'(delta) = {p_c - p_b >= delta} (the mirror image of ``log_e_worse``)."""
    return log_e_worse(cn - cx, cn, bn - bx, bn, -delta)


def e_value(cx: int, cn: int, bx: int, bn: int, delta: float = 0.0) -> float:
    """E against "the candidate's rate exceeds the stable's by at most delta"; capped so reports stay finite JSON."""
    if not (0 <= cx <= cn and 0 <= bx <= bn):
        raise ValueError(f"need 0 <= events <= exposures, got {cx}/{cn} and {bx}/{bn}")
    return math.exp(min(log_e_worse(cx, cn, bx, bn, delta), _LOG_CAP))


def lower_end(cx: int, cn: int, bx: int, bn: int, alpha: float) -> float:
    """inf {delta : E(delta) < 1/alpha}: the lower end of the confidence sequence for p_c - p_b. E(delta) falls
    in delta, so bisection; above 0 exactly when E(0) >= 1/alpha."""
    bound = math.log(1.0 / alpha)
    pc, pb = _rates(cx, cn, bx, bn)
    rejected = log_e_worse(cx, cn, bx, bn) >= bound
    lo, hi = (0.0, pc - pb) if rejected else (-1.0, min(0.0, pc - pb))
    if not rejected and log_e_worse(cx, cn, bx, bn, lo) < bound:
        return -1.0
    for _ in range(40):  # invariant: E(lo) >= 1/alpha > E(hi)
        mid = (lo + hi) / 2
        if log_e_worse(cx, cn, bx, bn, mid) >= bound:
            lo = mid
        else:
            hi = mid
    return max(hi, math.nextafter(0.0, 1.0)) if rejected else min(hi, 0.0)


def upper_end(cx: int, cn: int, bx: int, bn: int, alpha: float, margin: float) -> float:
    """sup {delta : E'(delta) < 1/alpha}: the upper end of the confidence sequence for p_c - p_b. E'(delta) rises
    in delta; below ``margin`` exactly when the non-inferiority test at ``margin`` passed."""
    bound = math.log(1.0 / alpha)
    pc, pb = _rates(cx, cn, bx, bn)
    passed = log_e_not_worse(cx, cn, bx, bn, margin) >= bound
    lo, hi = (max(-1.0, pc - pb), margin) if passed else (max(margin, pc - pb), 1.0)
    if not passed and log_e_not_worse(cx, cn, bx, bn, hi) < bound:
        return 1.0
    for _ in range(40):  # invariant: E'(lo) < 1/alpha <= E'(hi)
        mid = (lo + hi) / 2
        if log_e_not_worse(cx, cn, bx, bn, mid) >= bound:
            hi = mid
        else:
            lo = mid
    return min(lo, math.nextafter(margin, -math.inf)) if passed else max(lo, margin)
