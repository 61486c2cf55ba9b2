"""The statistics of ``verify.error_rate``: is the error rate after a rollback back at the baseline's?

The after-window (requests sent since the step started) is compared with the baseline window (the drill's
pre-deploy traffic) by the two-sample e-processes of harness.judge.two_sample, looked at every ``LOOK``
requests in the order they were sent, each side at ``alpha``:

* ``fail``  the after rate is above the baseline's: E against p_after - p_base <= 0 reached 1/alpha
            (a good rollback is failed with probability at most alpha, however long the step samples);
* ``pass``  the after rate is shown within ``tolerance`` of the baseline's: E against
            p_after - p_base >= tolerance reached 1/alpha (a rollback that left the rate raised by the
            tolerance or more passes with probability at most alpha);
* neither   keep sampling; at the step's deadline the verification is inconclusive, which fails the step.

A fixed "baseline + 1 %" over 40 requests, retried until it passed, passed rollbacks that left 3 % errors
about half of the time (issue 26). How much a step can tell depends on the baseline too: a 3 % leftover
against 1,500 error-free baseline requests (30 s at 50 req/s) fails within seconds; against 150 (3 s) the
baseline alone cannot exclude 3 %, and the step fails it less often (bench_judge.py: 90 % of 50).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from harness.judge import two_sample

LOOK = 10  # requests between two looks


@dataclass(frozen=True)
class Verification:
    """Where the sequential verification stands after ``requests`` after-window requests."""

    verdict: str  # fail | pass | inconclusive
    errors: int
    requests: int
    baseline_errors: int
    baseline_requests: int
    alpha: float
    tolerance: float
    lower: float | None = None  # confidence sequence of p_after - p_base, each end at alpha
    upper: float | None = None

    def line(self) -> str:
        """The report line: what was tested, the bound and the samples."""
        rate = self.errors / self.requests if self.requests else 0.0
        base = self.baseline_errors / self.baseline_requests if self.baseline_requests else 0.0
        seen = (f"error rate {rate:.1%} over {self.requests} requests against the baseline's {base:.1%} over "
                f"{self.baseline_requests}")
        bounds = "" if self.lower is None or self.upper is None else (
            f"; the difference is in [{self.lower * 100:+.1f}, {self.upper * 100:+.1f}] points")
        what = {"fail": "raised above the baseline", "pass": f"within {self.tolerance * 100:g} points of the baseline",
                "inconclusive": f"neither shown raised nor within {self.tolerance * 100:g} points"}[self.verdict]
        return f"{seen}: {what} (sequential test, alpha {self.alpha:g}{bounds})"


def look(errors: int, requests: int, baseline_errors: int, baseline_requests: int, alpha: float,
         tolerance: float, with_bounds: bool = False) -> Verification:
    """One look at the after-window's counts."""
    bound = math.log(1.0 / alpha)
    verdict = "inconclusive"
    if requests and baseline_requests:
        if two_sample.log_e_worse(errors, requests, baseline_errors, baseline_requests) >= bound:
            verdict = "fail"
        elif two_sample.log_e_not_worse(errors, requests, baseline_errors, baseline_requests, tolerance) >= bound:
            verdict = "pass"
    lower = upper = None
    if with_bounds and requests and baseline_requests:
        lower = two_sample.lower_end(errors, requests, baseline_errors, baseline_requests, alpha)
        upper = two_sample.upper_end(errors, requests, baseline_errors, baseline_requests, alpha, tolerance)
    return Verification(verdict, errors, requests, baseline_errors, baseline_requests, alpha, tolerance, lower, upper)


def sequential(failed: Sequence[bool], baseline_errors: int, baseline_requests: int, alpha: float,
               tolerance: float, first: int, start: int = 0) -> tuple[Verification, int]:
    """Look at the prefixes of ``failed`` (in the order sent) of ``first``, ``first + LOOK``, ... requests that are
    past ``start`` (the looks already made) and complete; stop at the first decisive look. Returns where it
    stands, with its bounds, and how far it looked (the next call's ``start``)."""
    n = start
    k = first if start < first else start + LOOK
    while k <= len(failed):
        n = k
        if look(sum(failed[:n]), n, baseline_errors, baseline_requests, alpha, tolerance).verdict != "inconclusive":
            break
        k += LOOK
    return look(sum(failed[:n]), n, baseline_errors, baseline_requests, alpha, tolerance, with_bounds=True), n
