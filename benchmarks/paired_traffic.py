"""Simulated mirrored traffic for bench_judge.py's paired judge: every request answered by the stable, a second
stable instance and the candidate, reduced at once to what the paired checks count.

Per request and version, independently: a background error (``Noise.error_rate``, and the candidate's own
rate), an answer slower than the stable's p90 (10 %, or every answer under +300 ms), a wrong answer. The
model's own mistakes (``MODEL_WRONG``, 4 %) are the same inputs for every version, so they are concordant;
on top, each version is wrong by chance (``Noise.wrong_rate``, 1 %), the accuracy fault makes the candidate
wrong on 5 % more inputs, and a share ``nondet`` of every version's answers is a coin flip (a
nondeterministic model). A share ``labelled`` of the requests carries a label (the ``incorrect`` check);
every request the three versions answered is judged by disagreement against the secondary, labelled or not
(binary classes: two answers differ when exactly one is wrong).

Enumerating the per-request outcomes once gives a categorical distribution over the four checks' joint
pair outcomes, so one uniform draw simulates a request (a 10,000-candidate run takes a minute, not an hour).
"""

from __future__ import annotations

import bisect
import itertools
import random
from collections.abc import Iterator
from dataclasses import dataclass

from harness.judge import paired

CHECKS = ("error", "latency", "incorrect", "disagreement")
NONE, WORSE, BETTER = 0, 1, 2


@dataclass(frozen=True)
class Mirrored:
    """One version in the simulation: its error rate, its share of slow answers, its wrong rate beyond the model's own."""

    error_rate: float
    slow: float
    extra_wrong: float


def _pair(cand: bool, ref: bool) -> int:
    return WORSE if cand and not ref else BETTER if ref and not cand else NONE


def _version_outcomes(v: Mirrored, hard: bool, nondet: float) -> Iterator[tuple[float, bool, bool, bool]]:
    """(probability, error, slow, wrong) of one version's answer to one input."""
    wrong_if_chosen = 1.0 if hard else v.extra_wrong
    p_wrong = (1 - nondet) * wrong_if_chosen + nondet * 0.5
    for err in (True, False):
        pe = v.error_rate if err else 1 - v.error_rate
        if err:
            yield pe, True, False, False
            continue
        for slow, wrong in itertools.product((True, False), repeat=2):
            yield pe * (v.slow if slow else 1 - v.slow) * (p_wrong if wrong else 1 - p_wrong), False, slow, wrong


def outcome(stable: tuple[bool, bool, bool], cand: tuple[bool, bool, bool], secondary: tuple[bool, bool],
            labelled: bool) -> tuple[int, int, int, int]:
    """What one mirrored request adds to each check (NONE / WORSE / BETTER, -1: not exposed), given each version's
    (error, slow, wrong) and the secondary's (error, wrong): ``PairedJudge.add``'s rules, which
    tests/judge/test_bench_judge.py holds this to, request by request."""
    (es, ss, ws), (ec, sc, wc), (e2, w2) = stable, cand, secondary
    err = _pair(ec, es)
    lat = inc = dis = -1
    if not (ec or es):
        lat = _pair(sc, ss)
        if labelled:
            inc = _pair(wc, ws)
        if not e2:  # disagreement needs no label (harness.judge.paired)
            dis = _pair(wc != ws, w2 != ws)
    return err, lat, inc, dis


def categories(stable: Mirrored, cand: Mirrored, model_wrong: float, nondet: float,
               labelled: float) -> tuple[list[float], list[tuple[int, int, int, int]]]:
    """Cumulative probabilities and the joint outcome (one of NONE / WORSE / BETTER per check, -1: not exposed)."""
    probs: dict[tuple[int, int, int, int], float] = {}
    for hard, ph in ((True, model_wrong), (False, 1 - model_wrong)):
        for is_labelled, pl in ((True, labelled), (False, 1 - labelled)):
            if ph * pl == 0:
                continue
            for (ps, es, ss, ws), (pc, ec, sc, wc), (p2, e2, _, w2) in itertools.product(
                    _version_outcomes(stable, hard, nondet), _version_outcomes(cand, hard, nondet),
                    _version_outcomes(stable, hard, nondet)):
                key = outcome((es, ss, ws), (ec, sc, wc), (e2, w2), is_labelled)
                probs[key] = probs.get(key, 0.0) + ph * pl * ps * pc * p2
    keys = list(probs)
    cumulative, total = [], 0.0
    for k in keys:
        total += probs[k]
        cumulative.append(total)
    return cumulative, keys


def detect(rng: random.Random, cumulative: list[float], keys: list[tuple[int, int, int, int]], rate: float,
           seconds: float, look_s: float, alpha: float, delay_s: float = 0.0,
           decided: list[tuple[str, paired.Discordance]] | None = None) -> float | None:
    """Seconds to the first look where a paired check rejects (alpha split over the four), or None.
    A pair is complete when the later of its answers arrives (``delay_s`` after it was sent). ``decided``
    collects the rejecting check's counts."""
    per_look = rate * look_s
    check_alpha = alpha / len(CHECKS)
    worse = [0] * len(CHECKS)
    better = [0] * len(CHECKS)
    sent = 0.0
    looks = int(seconds / look_s)
    top = cumulative[-1]
    for look in range(1, looks + 1):
        target = look * per_look - delay_s * rate  # requests whose pairs are complete by this look
        while sent < target:
            sent += 1
            outcome = keys[min(bisect.bisect_left(cumulative, rng.random() * top), len(keys) - 1)]
            for i, o in enumerate(outcome):
                if o == WORSE:
                    worse[i] += 1
                elif o == BETTER:
                    better[i] += 1
        for i in range(len(CHECKS)):
            bound = paired.rejection_boundary(worse[i] + better[i], check_alpha) if worse[i] else None
            if bound is not None and worse[i] >= bound:
                if decided is not None:  # the rejecting check's counts, for its reported interval
                    decided.append((CHECKS[i], paired.Discordance(int(sent), 0, worse[i], better[i])))
                return look * look_s
    return None
