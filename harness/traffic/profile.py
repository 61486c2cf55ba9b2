"""The offered request rate over time: constant, a linear ramp, or stages, and when each request is due.

A schedule is piecewise linear in the rate (k6's ``stages``: each stage moves the rate linearly from
where the last one ended to its own rate over its duration), then holds the final rate. The load
generator sends request *n* at ``time_of(n)``, the exact inverse of the integral ``count_by(t)``, so a
ramp offers its closed-form number of requests whatever the event loop's wake-ups are; both are pure
functions of the schedule, tested against the closed forms.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from harness.spec.models import TrafficSpec


@dataclass(frozen=True)
class Segment:
    start_s: float  # seconds since the load started
    duration_s: float
    from_rate: float  # requests per second at the segment's start
    to_rate: float  # ... and at its end

    @property
    def count(self) -> float:
        """Requests offered over the whole segment: the trapezoid's area."""
        return (self.from_rate + self.to_rate) / 2 * self.duration_s

    def count_at(self, tau: float) -> float:
        """Requests offered in the first ``tau`` seconds of the segment."""
        slope = (self.to_rate - self.from_rate) / self.duration_s
        return self.from_rate * tau + slope * tau * tau / 2

    def time_for(self, m: float) -> float:
        """Seconds into the segment at which ``m`` requests have been offered (0 <= m <= count)."""
        half_slope = (self.to_rate - self.from_rate) / (2 * self.duration_s)
        if half_slope == 0:
            return m / self.from_rate
        # Root of half_slope*t^2 + from_rate*t - m = 0 in the form that stays exact as the slope nears 0.
        disc = max(0.0, self.from_rate * self.from_rate + 4 * half_slope * m)
        return 2 * m / (self.from_rate + math.sqrt(disc))


class Schedule:
    """Offered rate: ``segments`` (the ramp or the stages) one after the other, then ``hold`` requests/s."""

    def __init__(self, segments: Sequence[Segment], hold: float) -> None:
        if not (math.isfinite(hold) and hold > 0):
            raise ValueError(f"the held rate must be a positive number, got {hold!r}")
        self.segments = tuple(segments)
        self.hold = hold
        self._counts: list[float] = []  # requests offered before each segment
        total = 0.0
        for seg in self.segments:
            self._counts.append(total)
            total += seg.count
        self._ramp_end = self.segments[-1].start_s + self.segments[-1].duration_s if self.segments else 0.0
        self._ramp_count = total

    @classmethod
    def constant(cls, rate: float) -> Schedule:
        return cls((), rate)

    @classmethod
    def stages(cls, start_rate: float, stages: Sequence[tuple[float, float]]) -> Schedule:
        """From ``start_rate``, each (duration_s, rate) stage moves linearly to its rate; the last one holds."""
        if not stages:
            return cls.constant(start_rate)
        segments, at, rate = [], 0.0, start_rate
        for duration, target in stages:
            if duration > 0:
                segments.append(Segment(at, duration, rate, target))
                at += duration
            rate = target
        return cls(segments, rate)

    @classmethod
    def ramp(cls, start_rate: float, rate: float, ramp_s: float) -> Schedule:
        return cls.stages(start_rate, [(ramp_s, rate)]) if ramp_s > 0 else cls.constant(rate)

    @classmethod
    def of(cls, spec: TrafficSpec) -> Schedule:
        """A drill's ``traffic:`` block: stages, or a ramp from start_rate (a tenth of the rate by default)."""
        if spec.stages:
            first = spec.stages[0].rate
            return cls.stages(spec.start_rate or first / 10, [(st.duration, st.rate) for st in spec.stages])
        return cls.ramp(spec.start_rate or spec.rate / 10, spec.rate, spec.ramp)

    @property
    def ramp_s(self) -> float:
        """When the schedule reaches its held rate."""
        return self._ramp_end

    def rate_at(self, t: float) -> float:
        for seg in self.segments:
            if t < seg.start_s + seg.duration_s:
                tau = max(0.0, t - seg.start_s)
                return seg.from_rate + (seg.to_rate - seg.from_rate) * tau / seg.duration_s
        return self.hold

    def count_by(self, t: float) -> float:
        """Requests offered in [0, t): the integral of the rate."""
        if t <= 0:
            return 0.0
        for seg, before in zip(self.segments, self._counts):
            if t < seg.start_s + seg.duration_s:
                return before + seg.count_at(t - seg.start_s)
        return self._ramp_count + self.hold * (t - self._ramp_end)

    def time_of(self, n: float) -> float:
        """When the ``n``-th request is due: the least t with count_by(t) >= n."""
        if n <= 0:
            return 0.0
        for seg, before in zip(self.segments, self._counts):
            if n <= before + seg.count:
                return seg.start_s + seg.time_for(n - before)
        return self._ramp_end + (n - self._ramp_count) / self.hold
