"""Summarising a run's client-side traffic: pure functions over samples, unit-tested without Docker.

``summarise`` turns every sample of a run into the traffic figures of the result (what the rollback
itself failed, apart from what the bad version answered); ``timeline`` buckets samples per second for
the reports, with the canary weight in force, latency and wrong answers per version.
"""

from __future__ import annotations

import bisect
import math
from collections import Counter
from collections.abc import Callable, Sequence

from harness.engine.results import PhaseResult, SecondCount, TimelinePoint, TrafficSummary
from harness.traffic.generator import Sample, window

BAD_KINDS = ("errors", "wrong", "out_of_range", "forbidden")  # report.json traffic.bad_responses_by_kind


def bad_kind(sample: Sample, candidate: str | None) -> str | None:
    """What is bad about an answer of the bad version by its own fault (None: nothing): an error (a status
    other than 2xx, a router's 504 for a request it hung on included), a score out of range, a forbidden class,
    a wrong answer to a labelled request. One kind an answer, in that order."""
    if sample.version != candidate or candidate is None:
        return None
    if not sample.ok:
        return "errors"
    if sample.score is not None and not 0 <= sample.score <= 1:
        return "out_of_range"
    # the built-in model's classes are 0 and 1; a team's server may answer labels ("benign"): not a forbidden class
    if isinstance(sample.prediction, int) and not isinstance(sample.prediction, bool) and sample.prediction not in (0, 1):
        return "forbidden"
    return "wrong" if sample.correct is False else None


def bad_answer(sample: Sample, candidate: str | None) -> bool:
    """An answer of the bad version that is bad by its own fault (any of ``BAD_KINDS``)."""
    return bad_kind(sample, candidate) is not None


LOADED_PHASES = ("baseline", "preflight", "deploy", "detect", "rollback", "promote", "bake")  # phases the load runs through


def summarise(samples: Sequence[Sample], *, rollback_started: float | None, completed: float | None,
              baseline_error_rate: float, candidate: str | None, phases: Sequence[PhaseResult] = (),
              slo_s: float | None = None, requested_rps: float | None = None,
              offered: Callable[[float, float], float] | None = None) -> TrafficSummary:
    """The run's traffic figures; times are epoch seconds (None: that moment never came). ``offered`` is the
    load generator's schedule (requests asked for between two times), for achieved against asked."""
    during = [s for s in samples if rollback_started is not None and s.at >= rollback_started
              and (completed is None or s.at <= completed)]
    after = window(samples, completed, float("inf")) if completed else None
    achieved, asked = phase_rates(samples, phases, offered)
    return TrafficSummary(
        requests=len(samples), failed=sum(not s.ok for s in samples),
        # A request the bad version answered badly before the drain took effect is the fault, not the rollback.
        failed_during_rollback=sum(rollback_failure(s, candidate) for s in during),
        bad_responses_during_rollback=sum(bad_answer(s, candidate) for s in during),
        bad_responses_served=sum(bad_answer(s, candidate) for s in samples),
        bad_responses_by_kind=by_kind(samples, candidate),
        baseline_error_rate=round(baseline_error_rate, 4),
        after_error_rate=round(after.error_rate, 4) if after and after.requests else None,
        by_version=dict(Counter(s.version or "none" for s in samples)),
        requested_rps=requested_rps, achieved_rps=achieved, offered_rps=asked, slo_s=slo_s,
        slow_during_rollback=sum(slow(s, slo_s, candidate) for s in during),
        rollback_seconds=per_second(during, rollback_started, completed, slo_s, candidate)
        if rollback_started is not None else (),
    )


def by_kind(samples: Sequence[Sample], candidate: str | None) -> dict[str, int]:
    """The bad version's bad answers, each kind counted apart (every kind present, zeros included)."""
    counts = Counter(bad_kind(s, candidate) for s in samples)
    return {kind: counts[kind] for kind in BAD_KINDS}


def rollback_failure(sample: Sample, candidate: str | None) -> bool:
    """A request the way back failed: an error from the router, the transport or any version but the bad one."""
    return not sample.ok and not bad_answer(sample, candidate)


def slow(sample: Sample, slo_s: float | None, candidate: str | None) -> bool:
    """An answer slower than the SLO from any version but the bad one (whose slowness is its fault)."""
    return slo_s is not None and sample.ok and sample.latency_s > slo_s and sample.version != candidate


def per_second(samples: Sequence[Sample], start: float, end: float | None, slo_s: float | None,
               candidate: str | None) -> tuple[SecondCount, ...]:
    """Requests, rollback failures and slow answers in each second from ``start`` (to ``end``, or the last sample)."""
    last = end if end is not None else max((s.at for s in samples), default=start)
    seconds = max(1, math.ceil(last - start))
    counts = [[0, 0, 0] for _ in range(seconds)]
    for s in samples:
        if start <= s.at and (end is None or s.at <= end):
            row = counts[min(seconds - 1, int(s.at - start))]
            row[0] += 1
            row[1] += rollback_failure(s, candidate)
            row[2] += slow(s, slo_s, candidate)
    return tuple(SecondCount(float(i), *row) for i, row in enumerate(counts))


def phase_rates(samples: Sequence[Sample], phases: Sequence[PhaseResult],
                offered: Callable[[float, float], float] | None = None) -> tuple[dict[str, float], dict[str, float]]:
    """Requests/s sent and answered (any status) in each loaded phase, and what the schedule asked for there."""
    achieved: dict[str, float] = {}
    asked: dict[str, float] = {}
    times = sorted(s.at for s in samples)
    for phase in phases:
        if phase.name not in LOADED_PHASES:
            continue
        a, b = phase.started_at.timestamp(), phase.ended_at.timestamp()
        if b - a < 0.05:  # too short to say a rate
            continue
        achieved[phase.name] = round((bisect.bisect_left(times, b) - bisect.bisect_left(times, a)) / (b - a), 1)
        if offered is not None:
            asked[phase.name] = round(offered(a, b) / (b - a), 1)
    return achieved, asked


def _p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]


def timeline(samples: Sequence[Sample], weights: Sequence[tuple[float, int]], t0: float) -> tuple[TimelinePoint, ...]:
    """Per-second buckets of client-side traffic, with the canary weight in force in each second."""
    if not samples:
        return ()
    buckets: dict[int, list[Sample]] = {}
    for s in samples:
        buckets.setdefault(int(s.at - t0), []).append(s)
    points = []
    for second in sorted(buckets):
        at = t0 + second + 1
        weight = next((w for when, w in reversed(weights) if when <= at), 0)
        chosen = buckets[second]
        requests = Counter(s.version or "none" for s in chosen)
        failed = Counter(s.version or "none" for s in chosen if not s.ok)
        incorrect = Counter(s.version or "none" for s in chosen if s.ok and s.correct is False)
        latencies: dict[str, list[float]] = {}
        for s in chosen:
            if s.ok:
                latencies.setdefault(s.version or "none", []).append(s.latency_s)
        p90 = {v: round(_p90(ls) * 1000, 2) for v, ls in latencies.items()}
        points.append(TimelinePoint(float(second), dict(requests), dict(failed), weight, p90, dict(incorrect)))
    return tuple(points)
