"""The timeline's panels: series per version (traffic, error rate, the fault's signal) and the evidence."""


from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from harness.engine.results import DrillResult
from harness.report.svg import (
    log_range,
    nice_max,
)
from harness.report.timeline_model import CHECK_COLORS, ERROR_H, EVIDENCE_H, OVERVIEW_H, SIGNAL_H, TRAFFIC_H, signals, since, version_colors


@dataclass
class Line:
    key: str  # version or check name (data-version / data-check attribute)
    color: str
    points: list[tuple[float, float | None]]  # (t since start, value); None breaks the line
    cls: str
    dots: bool = False
    partial_start: bool = False  # the run's first second is partial (load starting): dashed, not a dip
    partial_end: bool = False  # the run's last second is partial (load stopping)


@dataclass
class Panel:
    cls: str
    title: str
    height: int
    unit: str
    top_value: float  # linear: the axis maximum
    lines: list[Line] = field(default_factory=list)
    log: tuple[int, int] | None = None  # decades [lo, hi] for a log axis
    refs: list[tuple[float, str, str]] = field(default_factory=list)  # (value, colour, label) horizontal lines
    weight: bool = False  # draw the canary weight (right axis)


def _per_version(result: DrillResult, value: Callable[[int, int, float | None, int], float | None],
                 cls: str, colors: dict[str, str], dots: bool = True) -> list[Line]:
    """value(requests, failed, p90, incorrect) -> a point per second where the version had traffic."""
    lines = []
    for version, color in colors.items():
        points: list[tuple[float, float | None]] = []
        for p in result.timeline:
            n = p.requests.get(version, 0)
            v = value(n, p.failed.get(version, 0), p.latency_p90_ms.get(version), p.incorrect.get(version, 0)) if n else None
            points.append((p.t + 0.5, v))
        if any(v is not None for _, v in points):
            lines.append(Line(version, color, points, cls, dots=dots))
    return lines


def panels(result: DrillResult, compact: bool = False) -> list[Panel]:
    colors = version_colors(result)
    pts = result.timeline
    max_req = max((n for p in pts for n in p.requests.values()), default=0)
    traffic = Panel("panel-traffic", "Requests per second per version · canary weight (shaded, right axis)",
                    OVERVIEW_H if compact else TRAFFIC_H, "", nice_max(max_req, 10), weight=True)
    for version, color in colors.items():
        present = [i for i, p in enumerate(pts) if version in p.requests]
        first, last = present[0], present[-1]
        points: list[tuple[float, float | None]] = [(p.t + 0.5, float(p.requests.get(version, 0)))
                                                    for p in pts[first:last + 1]]
        traffic.lines.append(Line(version, color, points, "series-requests", partial_start=first == 0,
                                  partial_end=last == len(pts) - 1))
    if compact:
        return [traffic]
    out = [traffic]
    errors = _per_version(result, lambda n, f, _l, _i: 100 * f / n, "series-errors", colors)
    top = max((v for line in errors for _, v in line.points if v is not None), default=0.0)
    out.append(Panel("panel-errors", "Error rate per version (failed / requests)", ERROR_H, "%",
                     min(nice_max(top, 10), 100.0), errors))
    for kind in signals(result):
        if kind == "latency":
            lat = _per_version(result, lambda _n, _f, lat, _i: lat, "series-latency", colors)
            top = max((v for line in lat for _, v in line.points if v is not None), default=0.0)
            out.append(Panel("panel-latency", "Latency p90 per version (answered requests, ms) — the fault's signal",
                             SIGNAL_H, " ms", nice_max(top, 10), lat))
        else:
            wrong = _per_version(result, lambda n, f, _l, i: 100 * i / (n - f) if n > f else None, "series-wrong",
                                 colors)
            top = max((v for line in wrong for _, v in line.points if v is not None), default=0.0)
            out.append(Panel("panel-wrong", "Wrong-answer rate per version (of answered, labelled requests) — "
                             "the fault's signal", SIGNAL_H, "%", min(nice_max(top, 10), 100.0), wrong))
    if result.evidence_trace:
        out.append(_evidence_panel(result))
    return out


def _evidence_panel(result: DrillResult) -> Panel:
    deployed = since(result, result.timestamps.deployed_at) or 0.0
    checks: list[str] = []
    for p in result.evidence_trace:
        if p.check not in checks:
            checks.append(p.check)
    panel = Panel("panel-evidence", "Evidence: each check's statistic against its threshold (log scale)",
                  EVIDENCE_H, "", 1.0)
    values: list[float] = []
    for i, check in enumerate(checks):
        color = CHECK_COLORS[i % len(CHECK_COLORS)]
        trace = [p for p in result.evidence_trace if p.check == check]
        points: list[tuple[float, float | None]] = [
            (deployed + p.t_s, p.statistic if p.statistic > 0 and math.isfinite(p.statistic) else None) for p in trace]
        panel.lines.append(Line(check, color, points, "series-evidence", dots=len(points) <= 60))
        threshold = trace[-1].threshold
        panel.refs.append((threshold, color, f"{check} threshold {threshold:g}"))
        values += [v for _, v in points if v is not None] + [threshold]
    panel.log = log_range(values)
    return panel


# ---- drawing ---------------------------------------------------------------------------------

