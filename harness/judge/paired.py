"""The paired, anytime-valid judge of shadow traffic: the same requests answered by stable and candidate.

A canary compares two independent streams; a shadow compares two answers to the *same* request, so
everything both versions share (the model's own hard inputs, the traffic mix, the time of day) cancels
and only the pairs where they differ carry evidence. For every check, each mirrored request is one pair
of 0/1 events (an error, a slow answer, a wrong answer, a disagreement), and the evidence is the
count process of the discordant pairs:

    worse   the candidate has the event and the reference has not (stable right, candidate wrong)
    better  the reverse (stable wrong, candidate right)

Under "the candidate is no worse" each discordant pair is a candidate-only event with probability at
most 1/2, whatever the concordant pairs do (McNemar's observation), so the one-sided truncated-Beta
mixture of ``harness.sequential`` against p0 = 1/2 is an e-process: P(ever E >= 1/alpha) <= alpha
however often the judge looks. The checks:

* ``error``        candidate failed vs stable failed, on every mirrored request;
* ``latency``      answered slower than ``latency_above`` (the stable's p90 when not given: fixed on the
                   first ``warmup`` pairs, which the latency check then leaves out);
* ``incorrect``    labelled requests both answered: candidate wrong vs stable wrong;
* ``disagreement`` requests all three answered (labelled or not): candidate differs from stable vs a second
                   stable instance differs from stable (Diffy's primary / secondary / candidate). The
                   secondary is the noise floor: a nondeterministic model disagrees with itself, and a
                   candidate that disagrees no more than that is not "different".

The drill's one alpha is split evenly over the checks (a union bound). Each check reports the paired
effect, P(candidate event) - P(reference event) = d (2q - 1) with d the discordance rate and q the
candidate's share of discordant pairs, and a confidence sequence for it whose q part is inverted from the
e-process that decides (``share_cs``): its lower end is above 0 exactly when the check failed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from harness.judge import sequential

MEASURES = ("error", "latency", "incorrect", "disagreement")
NULL_SHARE = 0.5  # under H0 a discordant pair is the candidate's at most half the time
PRIOR: tuple[tuple[float, float], ...] = ((1.0, 1.0),)


@dataclass(frozen=True)
class Answer:
    """One version's answer to one mirrored request, as the tee recorded it and the protocol read it."""

    status: int  # HTTP status; 0 for a transport failure or a timeout
    latency_s: float
    prediction: Any = None
    correct: bool | None = None  # None: the request carries no label

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


@dataclass(frozen=True)
class PairedRecord:
    """One mirrored request: the stable's answer (the one the client got), the candidate's copy and, when
    a second stable instance runs, its copy (the noise floor). ``candidate`` is None when the copy was dropped."""

    at: float
    stable: Answer
    candidate: Answer | None
    secondary: Answer | None = None

    @property
    def labelled(self) -> bool:
        return self.stable.correct is not None


@dataclass
class Discordance:
    """The paired counts of one check: pairs exposed, pairs where both had the event, and the two discordant kinds."""

    pairs: int = 0
    both: int = 0
    worse: int = 0  # candidate-only events
    better: int = 0  # reference-only events

    def add(self, candidate_event: bool, reference_event: bool) -> None:
        self.pairs += 1
        if candidate_event and reference_event:
            self.both += 1
        elif candidate_event:
            self.worse += 1
        elif reference_event:
            self.better += 1

    @property
    def discordant(self) -> int:
        return self.worse + self.better


@lru_cache(maxsize=1 << 16)
def paired_e_value(worse: int, better: int) -> float:
    """E against "a discordant pair is the candidate's with probability at most 1/2" (uniform prior on (1/2, 1]).
    Closed form when there are only candidate-only pairs: (2^(n+1) - 1) / (n + 1)."""
    n = worse + better
    return sequential.one_sided_e_value(worse, n, NULL_SHARE, PRIOR) if n else 1.0


def share_cs(worse: int, better: int, alpha: float) -> tuple[float, float]:
    """The confidence sequence of q, the candidate's share of discordant pairs, from the e-process family that
    decides: the lower end inverts E(q0) against "q <= q0" (at q0 = 1/2 it is ``paired_e_value``, so the lower
    end is above 1/2 exactly when the check failed), the upper end the mirror test "q >= q0"; each at alpha."""
    n = worse + better
    if not n:
        return 0.0, 1.0
    threshold = 1.0 / alpha
    rejected = paired_e_value(worse, better) >= threshold
    lo = sequential.lower_bound(lambda q0: sequential.one_sided_e_value(worse, n, min(q0, 1 - 1e-15), PRIOR),
                                threshold, worse / n, rejected, NULL_SHARE)
    if rejected:
        lo = max(lo, math.nextafter(NULL_SHARE, 1.0))
    mirror = sequential.one_sided_e_value(better, n, NULL_SHARE, PRIOR) >= threshold
    hi = 1.0 - sequential.lower_bound(lambda r0: sequential.one_sided_e_value(better, n, min(r0, 1 - 1e-15), PRIOR),
                                      threshold, better / n, mirror, NULL_SHARE)
    return min(lo, NULL_SHARE) if not rejected else lo, hi


def effect_cs(counts: Discordance, alpha: float) -> tuple[float | None, float | None, float | None]:
    """P(candidate event) - P(reference event) = d (2q - 1) and its confidence sequence: q's from the e-process
    that decides (``share_cs``), the discordance rate d's from ``sequential.rate_cs``, each at alpha; d > 0 on
    any discordant pair, so the lower end is above 0 exactly when the check failed. Bilinear in (d, q): the
    ends are at corners of the rectangle (joint coverage at least 1 - 3 alpha by a union bound)."""
    if not counts.pairs:
        return None, None, None
    effect = (counts.worse - counts.better) / counts.pairs
    d_lo, d_hi = sequential.rate_cs(counts.discordant, counts.pairs, alpha)
    q_lo, q_hi = share_cs(counts.worse, counts.better, alpha)
    lo = d_lo * (2 * q_lo - 1) if q_lo > NULL_SHARE else d_hi * (2 * q_lo - 1)
    hi = d_hi * (2 * q_hi - 1) if q_hi > NULL_SHARE else d_lo * (2 * q_hi - 1)
    return effect, lo, hi


@dataclass(frozen=True)
class PairedOutcome:
    """One look of one paired check."""

    measure: str
    counts: Discordance
    e_value: float
    alpha: float
    effect: float | None
    lower: float | None
    upper: float | None
    margin: float = 0.1

    @property
    def threshold(self) -> float:
        return 1.0 / self.alpha

    @property
    def rejected(self) -> bool:
        return self.e_value >= self.threshold

    @property
    def candidate_rate(self) -> float | None:
        c = self.counts
        return (c.both + c.worse) / c.pairs if c.pairs else None

    @property
    def reference_rate(self) -> float | None:
        c = self.counts
        return (c.both + c.better) / c.pairs if c.pairs else None

    @property
    def verdict(self) -> str:
        """fail: the e-value reached 1/alpha; pass: the effect's upper end is below ``margin`` (the candidate's
        event rate shown at most ``margin`` above the stable's; each end of the interval at alpha, so a false
        pass has probability at most 2 alpha); inconclusive otherwise (and at looks without the interval)."""
        if self.rejected:
            return "fail"
        return "pass" if self.upper is not None and self.upper < self.margin else "inconclusive"


def paired_test(measure: str, counts: Discordance, alpha: float, with_cs: bool = True) -> PairedOutcome:
    e = paired_e_value(counts.worse, counts.better)
    effect, lo, hi = effect_cs(counts, alpha) if with_cs else (None, None, None)
    return PairedOutcome(measure, Discordance(counts.pairs, counts.both, counts.worse, counts.better), e, alpha,
                         effect, lo, hi)


def _slow(a: Answer, above: float) -> bool:
    return a.latency_s > above


@dataclass
class PairedJudge:
    """Accumulates paired records and judges them at every look; one alpha for all its checks."""

    alpha: float = 0.01
    measures: Sequence[str] = MEASURES
    latency_above: float | None = None
    warmup: int = 50  # pairs whose stable latencies fix the latency threshold when none is given
    counts: dict[str, Discordance] = field(default_factory=dict)
    records: int = 0
    dropped: int = 0  # copies the tee could not send (its queue was full): not pairs, never evidence
    _warm: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        unknown = [m for m in self.measures if m not in MEASURES]
        if unknown or not self.measures:
            raise ValueError(f"unknown paired measures {unknown or '(none)'}; known: {', '.join(MEASURES)}")
        if not 0.0 < self.alpha < 1.0:
            raise ValueError(f"alpha must be in (0, 1), got {self.alpha}")
        self.counts = {m: Discordance() for m in self.measures}

    @property
    def check_alpha(self) -> float:
        """The drill's alpha split evenly over the checks: a false rollback needs one of them to fail."""
        return self.alpha / len(self.measures)

    def add(self, record: PairedRecord) -> None:
        self.records += 1
        cand, stable = record.candidate, record.stable
        if cand is None:
            self.dropped += 1
            return
        counts = self.counts
        if "error" in counts:
            counts["error"].add(not cand.ok, not stable.ok)
        if not (cand.ok and stable.ok):
            return  # latency, correctness and agreement are judged on answered requests
        if "latency" in counts:
            self._latency(stable, cand)
        if record.labelled and "incorrect" in counts and cand.correct is not None:
            counts["incorrect"].add(not cand.correct, not stable.correct)
        # Disagreement needs no label: every request all three answered is evidence, labelled or not (a union
        # bound over the checks keeps the drill's alpha, however their evidence overlaps).
        if "disagreement" in counts and record.secondary is not None and record.secondary.ok:
            counts["disagreement"].add(cand.prediction != stable.prediction,
                                       record.secondary.prediction != stable.prediction)

    def _latency(self, stable: Answer, cand: Answer) -> None:
        if self.latency_above is None:
            self._warm.append(stable.latency_s)
            if len(self._warm) >= self.warmup:
                self.latency_above = sequential.empirical_quantile(self._warm, 0.9)
            return
        self.counts["latency"].add(_slow(cand, self.latency_above), _slow(stable, self.latency_above))

    def extend(self, records: Iterable[PairedRecord]) -> None:
        for r in records:
            self.add(r)

    def look(self, with_cs: bool = True) -> tuple[PairedOutcome, ...]:
        return tuple(paired_test(m, c, self.check_alpha, with_cs) for m, c in self.counts.items())

    def rejected(self) -> bool:
        """The cheap question asked at every look: has any check crossed 1/alpha?"""
        threshold = 1.0 / self.check_alpha
        return any(paired_e_value(c.worse, c.better) >= threshold for c in self.counts.values())


@lru_cache(maxsize=4096)
def rejection_boundary(discordant: int, alpha: float) -> int | None:
    """The fewest candidate-only pairs among ``discordant`` that reject at ``alpha`` (None: none do).
    E grows with the candidate's share at a fixed total, so one bisection per total: the benchmark and the
    simulation tests look after every pair in O(1) with it."""
    threshold = 1.0 / alpha
    if discordant == 0 or paired_e_value(discordant, 0) < threshold:
        return None
    lo, hi = 0, discordant  # E(hi) >= threshold
    while lo < hi:
        mid = (lo + hi) // 2
        if paired_e_value(mid, discordant - mid) >= threshold:
            hi = mid
        else:
            lo = mid + 1
    return lo


def crossing_probability(q: float, horizon: int, alpha: float,
                         boundary: Callable[[int, float], int | None] = rejection_boundary) -> float:
    """Exact P(some look within ``horizon`` discordant pairs rejects) when each is the candidate's w.p. q:
    dynamic programming over (pairs, candidate-only pairs) with the rejection boundary absorbing."""
    mass = {0: 1.0}
    crossed = 0.0
    for n in range(1, horizon + 1):
        nxt: dict[int, float] = {}
        for k, p in mass.items():
            nxt[k + 1] = nxt.get(k + 1, 0.0) + p * q
            nxt[k] = nxt.get(k, 0.0) + p * (1 - q)
        bound = boundary(n, alpha)
        if bound is not None:
            crossed += sum(p for k, p in nxt.items() if k >= bound)
            nxt = {k: p for k, p in nxt.items() if k < bound}
        mass = nxt
    return crossed if math.isfinite(crossed) else 1.0
