"""Summarising a run's client-side traffic: pure functions over samples, unit-tested without Docker.

``summarise`` turns every sample of a run into the traffic figures of the result (what the rollback
itself failed, apart from what the bad version answered); ``timeline`` buckets samples per second for
the reports, with the canary weight in force, latency and wrong answers per version.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from harness.engine.results import TimelinePoint, TrafficSummary
from harness.traffic import Sample, window


def bad_answer(sample: Sample, candidate: str | None) -> bool:
    """An answer of the bad version that is wrong by its own fault: an error, a score out of range, a forbidden class."""
    return sample.version == candidate and (
        not sample.ok or (sample.score is not None and not 0 <= sample.score <= 1)
        # the built-in model's classes are 0 and 1; a team's server may answer labels ("benign"): not a forbidden class
        or (isinstance(sample.prediction, int) and sample.prediction not in (0, 1)))


def summarise(samples: Sequence[Sample], *, rollback_started: float | None, completed: float | None,
              baseline_error_rate: float, candidate: str | None) -> TrafficSummary:
    """The run's traffic figures; times are epoch seconds (None: that moment never came)."""
    during = [s for s in samples if rollback_started is not None and s.at >= rollback_started
              and (completed is None or s.at <= completed)]
    after = window(samples, completed, float("inf")) if completed else None
    return TrafficSummary(
        requests=len(samples), failed=sum(not s.ok for s in samples),
        # A request the bad version answered badly before the drain took effect is the fault, not the rollback.
        failed_during_rollback=sum(not s.ok and not bad_answer(s, candidate) for s in during),
        bad_responses_during_rollback=sum(bad_answer(s, candidate) for s in during),
        bad_responses_served=sum(bad_answer(s, candidate) for s in samples),
        baseline_error_rate=round(baseline_error_rate, 4),
        after_error_rate=round(after.error_rate, 4) if after and after.requests else None,
        by_version=dict(Counter(s.version or "none" for s in samples)),
    )


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
