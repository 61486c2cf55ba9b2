"""The run timeline as inline SVG, drawn by hand (no plotting library, no external assets, no script).

`timeline_svg(result)` zooms on the drill's action: from a tail of the baseline before the deploy to
just past the verified completion, so a cold run's image build does not squeeze the interesting
seconds into the last tenth of the width. `overview_svg(result)` is the whole run, small, with the
zoomed window boxed. Both shade the run's phases behind the data.

Panels, stacked on one time axis (seconds since the run started):

- traffic: requests per second per serving version, and the canary weight (shaded step, right axis);
- error rate: failed / requests per second per version (only where that version had traffic);
- the fault's own signal, chosen from the checks that judged the run: latency p90 per version (a
  latency check), wrong-answer rate per version (an incorrect-answers check);
- evidence: each check's statistic over time against its threshold, on a log axis (when the judge
  recorded a trace).

Vertical marks at deployed, first breach, decision, rollback start and completion; the decision +
target mark where it falls inside the window (the target itself is drawn as a bar by charts.py).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from html import escape

from harness.engine.results import DrillResult
from harness.report.svg import (
    CHAR_W,
    decade,
    log_range,
    nice_max,
    nice_step,
    num,
    open_svg,
    polyline,
    text,
)

WIDTH = 960
LEFT, RIGHT = 64, 64  # room for the two y axes
TRAFFIC_H, ERROR_H, SIGNAL_H, EVIDENCE_H, PANEL_GAP = 170, 90, 110, 120, 30
OVERVIEW_H = 64
LABEL_ROW_H = 15
BASELINE_TAIL_S = 4.0  # at least this much of the steady state before the deploy stays in view
ZOOM_IF_UNDER = 0.7  # zoom only when the action spans less than this share of the run

STABLE_COLOR, CANDIDATE_COLOR = "#1f6fb4", "#e8710a"
OTHER_COLORS = ("#7b3fa0", "#2a9d4b", "#8c564b", "#555555")
CHECK_COLORS = ("#6a1b9a", "#00838f", "#c2185b", "#5d4037")
WEIGHT_COLOR = "#9aa5b1"
MARK_COLORS = {
    "deployed": "#2a7d2a",
    "first breach": "#c0392b",
    "decision": "#8e44ad",
    "rollback start": "#d35400",
    "completed": "#16808a",
    "target": "#b8860b",
}
PHASE_COLORS = {"prepare": "#eef0f2", "baseline": "#e6f0fa", "deploy": "#e9f5ea", "detect": "#fff6dc",
                "rollback": "#fdebe7", "promote": "#e9f5ea", "teardown": "#eef0f2"}
EXTEND_FOR_TARGET = 1.25  # stretch the axis to show the target if it lies within 25 % past the end


@dataclass(frozen=True)
class Mark:
    label: str
    t: float  # seconds since the run started
    color: str
    dashed: bool = True


@dataclass(frozen=True)
class Window:
    start: float  # seconds since the run started
    end: float
    zoomed: bool  # False: the whole run


def _since(result: DrillResult, moment: datetime | None) -> float | None:
    return None if moment is None else (moment - result.timestamps.started_at).total_seconds()


def marks(result: DrillResult) -> list[Mark]:
    """The moments of the run, in seconds since it started (absent moments are left out)."""
    ts = result.timestamps
    found = []
    for label, moment in (("deployed", ts.deployed_at), ("first breach", ts.first_breach_at),
                          ("decision", ts.decision_at), ("rollback start", ts.rollback_started_at),
                          ("completed", ts.completed_at)):
        t = _since(result, moment)
        if t is not None:
            found.append(Mark(label, t, MARK_COLORS[label]))
    return found


def target_at(result: DrillResult) -> float | None:
    """Where decision + target falls, in seconds since the start (None without a decision)."""
    decided = _since(result, result.timestamps.decision_at)
    return None if decided is None else decided + result.target_s


def fmt_target(target_s: float) -> str:
    return f"{target_s / 60:g}-minute" if target_s >= 60 and target_s % 60 == 0 else f"{target_s:g}-second"


def _data_end(result: DrillResult) -> float:
    end = max([p.t + 1 for p in result.timeline] + [m.t for m in marks(result)] + [1.0])
    wall = result.wall_s
    return max(end, wall or 0.0)


def axis_end(result: DrillResult) -> float:
    """The right edge of the whole-run axis: the run, stretched to the target if it is just past it."""
    end = _data_end(result)
    target = target_at(result)
    if target is not None and end < target <= end * EXTEND_FOR_TARGET:
        end = target * 1.02
    return end


def zoom_window(result: DrillResult) -> Window:
    """Baseline tail -> just past completion (or the end of the action), or the whole run if that is no zoom."""
    full = axis_end(result)
    deployed = _since(result, result.timestamps.deployed_at)
    if deployed is None:
        return Window(0.0, full, False)
    done = _since(result, result.timestamps.completed_at)
    if done is None:  # missed, held, failed rollback: show until teardown began (or the end)
        teardown = next((p for p in result.phases if p.name == "teardown"), None)
        done = (_since(result, teardown.started_at) if teardown else None) or full
    target = target_at(result)
    if target is not None and done < target <= done + max(2.0, 0.25 * (done - deployed)):
        done = target  # a short target just past completion stays in view
    span = max(done - deployed, 1.0)
    start = max(0.0, deployed - max(BASELINE_TAIL_S, 0.3 * span))
    end = min(full, done + max(1.0, 0.06 * (done - start)))
    if end - start >= ZOOM_IF_UNDER * full:
        return Window(0.0, full, False)
    return Window(start, end, True)


def target_note(result: DrillResult) -> str | None:
    """Where the target mark would be when it is off the whole-run chart; None when on it (or no decision)."""
    target = target_at(result)
    if target is None:
        return None
    end = axis_end(result)
    if target <= end:
        return None
    text_ = (f"The {fmt_target(result.target_s)} target (decision + {result.target_s:g} s) would be at "
             f"t = {target:,.1f} s since the start, off the chart's right edge (the chart ends at {end:.1f} s)")
    completed = _since(result, result.timestamps.completed_at)
    if completed is not None:
        text_ += f"; the run completed {target - completed:,.1f} s before it"
    return text_ + "."


def version_colors(result: DrillResult) -> dict[str, str]:
    seen: list[str] = []
    for p in result.timeline:
        for v in p.requests:
            if v not in seen:
                seen.append(v)
    colors: dict[str, str] = {}
    others = iter(OTHER_COLORS * 4)
    for v in sorted(seen, key=lambda v: (v != result.stable_version, v != result.candidate_version, v)):
        colors[v] = (STABLE_COLOR if v == result.stable_version else
                     CANDIDATE_COLOR if v == result.candidate_version else next(others))
    return colors


def version_label(result: DrillResult, version: str) -> str:
    if version == result.stable_version:
        return f"{version} (stable)"
    if version == result.candidate_version:
        return f"{version} (candidate)"
    if version == "none":
        return "no answer"
    return version


def signals(result: DrillResult) -> list[str]:
    """The fault's own signals worth a panel, from the names of the checks that judged the run."""
    names = " ".join([e.metric for e in result.evidence] + [p.check for p in result.evidence_trace]).lower()
    found = []
    if "latenc" in names and any(p.latency_p90_ms for p in result.timeline):
        found.append("latency")
    if any(word in names for word in ("incorrect", "accura", "wrong")) and result.timeline:
        found.append("wrong")
    return found


def label_box(px: float, text_: str, width: int) -> tuple[float, float, str]:
    """(start, end, anchor) of a mark label: right of its line, or left of it near the right edge."""
    w = len(text_) * CHAR_W
    if px + 3 + w > width - 4:
        return px - 3 - w, px - 3, "end"
    return px + 3, px + 3 + w, "start"


def _label_rows(xs: list[float], boxes: list[tuple[float, float]], gap: float = 6,
                right_to_left: bool = True) -> list[int]:
    """A row per label (0 = just above the plot) so labels neither overlap nor get crossed by a mark's line.

    A mark's line rises to its own label's row, so it crosses a label on that row or a lower one.
    Placed right to left, each label takes the lowest row that is free of overlapping labels, above
    every line inside its box, and below every label whose box holds its line.
    """
    n = len(xs)
    rows: dict[int, int] = {}
    for i in sorted(range(n), key=lambda k: -xs[k] if right_to_left else xs[k]):
        start, end = boxes[i]
        above = max((rows[k] for k in rows if start - 1 <= xs[k] <= end + 1), default=-1)
        below = min((rows[k] for k in rows if boxes[k][0] - 1 <= xs[i] <= boxes[k][1] + 1), default=n + 1)
        row = above + 1
        while row < below and any(rows[k] == row and not (end + gap <= boxes[k][0] or start >= boxes[k][1] + gap)
                                  for k in rows):
            row += 1
        if row >= below:  # no clean row: go above everything (a crossing line beats overlapping text)
            row = max(rows.values(), default=-1) + 1
        rows[i] = row
    return [rows[i] for i in range(n)]


def crossings(xs: list[float], boxes: list[tuple[float, float]], rows: list[int]) -> int:
    """How many (line, label) pairs cross: a mark's line rises to its own row, through lower labels' boxes."""
    return sum(1 for i, x in enumerate(xs) for j, (a, b) in enumerate(boxes)
               if i != j and rows[j] < rows[i] and a - 1 <= x <= b + 1)


def place_labels(xs: list[float], texts: list[str], width: int) -> tuple[list[tuple[float, float, str]], list[int]]:
    """Boxes and rows for the mark labels, with the fewest lines crossing labels (then the fewest rows).

    Tried: every label on its natural side and each one flipped to the other side, rows assigned right
    to left and left to right.
    """
    natural = [label_box(x, t, width) for x, t in zip(xs, texts)]
    candidates = [natural]
    for i, (x, t) in enumerate(zip(xs, texts)):
        w = len(t) * CHAR_W
        flipped = (x - 3 - w, x - 3, "end") if natural[i][2] == "start" else (x + 3, x + 3 + w, "start")
        if flipped[0] >= 4 and flipped[1] <= width - 4:
            candidates.append([*natural[:i], flipped, *natural[i + 1:]])
    best: tuple[tuple[int, int, int], list[tuple[float, float, str]], list[int]] | None = None
    for n, boxes in enumerate(candidates):
        spans = [(a, b) for a, b, _ in boxes]
        for right_to_left in (True, False):
            rows = _label_rows(xs, spans, right_to_left=right_to_left)
            score = (crossings(xs, spans, rows), max(rows, default=-1), n)
            if best is None or score < best[0]:
                best = (score, boxes, rows)
    assert best is not None
    return best[1], best[2]


# ---- panels ----------------------------------------------------------------------------------

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
    deployed = _since(result, result.timestamps.deployed_at) or 0.0
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

def timeline_svg(result: DrillResult, width: int = WIDTH, window: Window | None = None) -> str:
    """The zoomed timeline (or ``window``) as one <svg> element (text escaped; safe to inline in HTML)."""
    win = window or zoom_window(result)
    return _chart(result, width, win, panels(result), compact=False)


def overview_svg(result: DrillResult, width: int = WIDTH) -> str:
    """The whole run, one small traffic panel, the zoomed window boxed."""
    whole = Window(0.0, axis_end(result), False)
    zoom = zoom_window(result)
    return _chart(result, width, whole, panels(result, compact=True), compact=True, box=zoom if zoom.zoomed else None)


def _chart(result: DrillResult, width: int, win: Window, stack: list[Panel], compact: bool,
           box: Window | None = None) -> str:
    uid = "ov" if compact else "tl"
    plot_w = width - LEFT - RIGHT
    span = max(win.end - win.start, 1e-9)

    def x(t: float) -> float:
        return LEFT + plot_w * (min(max(t, win.start), win.end) - win.start) / span

    all_marks = marks(result)
    target = target_at(result)
    target_on_chart = target is not None and win.start <= target <= win.end
    if target_on_chart:
        assert target is not None
        all_marks.append(Mark(f"target (decision + {result.target_s:g} s)", target, MARK_COLORS["target"], False))
    all_marks = [m for m in all_marks if win.start <= m.t <= win.end]
    labelled = sorted(((x(m.t), f"{m.label} {num(round(m.t, 1))} s", m) for m in all_marks), key=lambda i: i[0])
    if compact:
        labelled = []
    boxes, rows = place_labels([px for px, _, _ in labelled], [t for _, t, _ in labelled], width)
    n_rows = max(rows, default=-1) + 1
    header = 22 if compact else 28
    top = header + (0 if compact else max(n_rows, 1) * LABEL_ROW_H) + 18  # + the first panel's title row
    tops: list[int] = []
    y = top
    for panel in stack:
        tops.append(y)
        y += panel.height + PANEL_GAP
    bottom = y - PANEL_GAP
    legend_y = bottom + (34 if compact else 50)

    out: list[str] = []
    if compact:
        title = f"Whole run of drill {result.drill}, 0 to {win.end:.1f} s"
        heading = (f"Whole run, 0–{num(round(win.end, 1))} s" +
                   (" — the box is the window charted above" if box else ""))
    else:
        title = f"Timeline of drill {result.drill}, run {result.run_id}"
        heading = (f"The drill's action, {num(round(win.start, 1))}–{num(round(win.end, 1))} s since the start "
                   "(baseline tail to completion)" if win.zoomed else "The whole run")
    desc = ("Per-version traffic, errors and the fault's signal over "
            + f"{win.start:.1f}-{win.end:.1f} s since the start, with marks at "
            + ", ".join(f"{m.label} ({m.t:.1f} s)" for m in all_marks) + ".")
    out.append(f'<clipPath id="{uid}-clip"><rect x="{LEFT}" y="{top}" width="{plot_w}" height="{bottom - top}"/>'
               "</clipPath>")
    out.append(text(LEFT, 16, heading, size=13, weight="600", fill="#222"))

    # Panels: frame, phase shading, grid, axes, data.
    for panel, ptop in zip(stack, tops):
        out.extend(_panel(result, panel, ptop, x, width, win, uid, compact))
    # Time axis.
    xstep = nice_step(span, 6 if compact else 10)
    t = math.ceil(win.start / xstep - 1e-9) * xstep
    while t <= win.end + 1e-9:
        xx = x(t)
        for panel, ptop in zip(stack, tops):
            out.append(f'<line x1="{xx:.1f}" x2="{xx:.1f}" y1="{ptop}" y2="{ptop + panel.height}" stroke="#000" '
                       'stroke-opacity="0.06"/>')
        out.append(text(xx, bottom + 15, num(round(t, 3)), anchor="middle", fill="#444"))
        t += xstep
    if not compact:
        out.append(text(LEFT + plot_w / 2, bottom + 31, "seconds since the run started", anchor="middle"))
    if box is not None:
        out.append(f'<rect class="zoom-box" x="{x(box.start):.1f}" y="{top - 2}" width="{x(box.end) - x(box.start):.1f}" '
                   f'height="{bottom - top + 4}" fill="none" stroke="#222" stroke-width="1.5" stroke-dasharray="5 3"/>')

    # Marks across every panel; labels staggered on rows above the first.
    for m in all_marks if compact else ():
        out.append(f'<line x1="{x(m.t):.1f}" x2="{x(m.t):.1f}" y1="{top}" y2="{bottom}" stroke="{m.color}" '
                   'stroke-width="1" stroke-dasharray="3 3"/>')
    for (px, label, m), row, (bx, _, anchor) in zip(labelled, rows, boxes):
        dash = ' stroke-dasharray="5 3"' if m.dashed else ""
        label_y = header + n_rows * LABEL_ROW_H - 4 - row * LABEL_ROW_H
        out.append(f'<g class="mark" data-mark="{escape(m.label, quote=True)}">')
        out.append(f'<line x1="{px:.1f}" x2="{px:.1f}" y1="{label_y + 3}" y2="{bottom}" stroke="{m.color}" '
                   f'stroke-width="1.5"{dash}/>')
        out.append(text(bx if anchor == "start" else px - 3, label_y, label, anchor=anchor, fill=m.color, size=11))
        out.append("</g>")
    # Panel titles last, on a white ground, so a mark's line never runs through their text.
    for panel, ptop in zip(stack, tops):
        if compact:
            continue
        w = len(panel.title) * 6.6 + 8
        out.append(f'<rect x="{LEFT - 2}" y="{ptop - 16}" width="{w:.0f}" height="14" fill="#fff"/>')
        out.append(text(LEFT, ptop - 5, panel.title, size=11, weight="600", fill="#36414c", cls="panel-title"))
    legend, last_y = _legend(result, stack, LEFT, legend_y, compact)
    out.append(legend)
    out.append("</svg>")
    height = int(last_y + (8 if compact else 14))
    return "\n".join([open_svg(width, height, "overview" if compact else "timeline", title, desc, uid), *out])


def _panel(result: DrillResult, panel: Panel, ptop: int, x: Callable[[float], float], width: int, win: Window,
           uid: str, compact: bool) -> list[str]:
    out: list[str] = []
    pbottom = ptop + panel.height
    plot_w = width - LEFT - RIGHT
    out.append(f'<rect class="{panel.cls}" x="{LEFT}" y="{ptop}" width="{plot_w}" height="{panel.height}" '
               'fill="#fbfcfd" stroke="#c8ccd0"/>')
    # Phases shaded behind the data; their names inside the first panel where they fit.
    for ph in result.phases:
        a, b = _since(result, ph.started_at), _since(result, ph.ended_at)
        assert a is not None and b is not None
        if b < win.start or a > win.end:
            continue
        xa, xb = x(a), x(b)
        out.append(f'<rect class="phase" data-phase="{escape(ph.name, quote=True)}" x="{xa:.1f}" y="{ptop + 0.5}" '
                   f'width="{max(xb - xa, 0.5):.1f}" height="{panel.height - 1}" '
                   f'fill="{PHASE_COLORS.get(ph.name, "#f2f2f2")}"/>')
        if panel.weight and xb - xa > len(ph.name) * 6.2 + 6:
            out.append(text((xa + xb) / 2, ptop + 12, ph.name, anchor="middle", fill="#7a848e", size=10,
                            cls="phase-label"))

    log = panel.log

    def yv(v: float) -> float:
        if log is not None:
            lo, hi = log
            frac = (math.log10(max(v, 10.0 ** (lo - 1))) - lo) / (hi - lo)
        else:
            frac = v / panel.top_value if panel.top_value else 0.0
        return pbottom - panel.height * min(max(frac, 0.0), 1.0)

    # Grid and left-axis labels.
    if log is not None:
        lo, hi = log
        every = max(1, math.ceil((hi - lo) / 5))
        for k in range(lo, hi + 1, every):
            out.append(f'<line x1="{LEFT}" x2="{width - RIGHT}" y1="{yv(10.0 ** k):.1f}" y2="{yv(10.0 ** k):.1f}" '
                       'stroke="#e3e6e9"/>')
            out.append(text(LEFT - 6, yv(10.0 ** k) + 4, decade(k), anchor="end", fill="#444"))
    else:
        step = nice_step(panel.top_value, 2 if compact else 4)
        v = 0.0
        while v <= panel.top_value + 1e-9:
            out.append(f'<line x1="{LEFT}" x2="{width - RIGHT}" y1="{yv(v):.1f}" y2="{yv(v):.1f}" stroke="#e3e6e9"/>')
            out.append(text(LEFT - 6, yv(v) + 4, f"{num(v)}{panel.unit}", anchor="end", fill="#444"))
            v += step

    body: list[str] = []
    if panel.weight and result.timeline:
        pts = result.timeline

        def y_weight(w: float) -> float:
            return pbottom - panel.height * w / 100

        path = [f"M{x(pts[0].t):.1f},{y_weight(0):.1f}"]
        for p in pts:
            path.append(f"L{x(p.t):.1f},{y_weight(p.canary_weight):.1f}L{x(p.t + 1):.1f},{y_weight(p.canary_weight):.1f}")
        path.append(f"L{x(pts[-1].t + 1):.1f},{y_weight(0):.1f}Z")
        body.append(f'<path class="canary-weight" d="{"".join(path)}" fill="{WEIGHT_COLOR}" fill-opacity="0.3" '
                    f'stroke="{WEIGHT_COLOR}" stroke-width="1"/>')
        if not compact:
            for w in (0, 25, 50, 75, 100):
                out.append(text(width - RIGHT + 6, y_weight(w) + 4, f"{w}%", fill=WEIGHT_COLOR))
    for value, color, label in panel.refs:
        yy = yv(value)
        body.append(f'<line class="threshold" x1="{LEFT}" x2="{width - RIGHT}" y1="{yy:.1f}" y2="{yy:.1f}" '
                    f'stroke="{color}" stroke-width="1.5" stroke-dasharray="6 4"/>')
        body.append(text(width - RIGHT - 4, yy - 4, label, anchor="end", fill=color, size=10))
    for line in panel.lines:
        body.extend(_line(line, x, yv))
    if not result.timeline and panel.weight:
        body.append(text(LEFT + plot_w / 2, (ptop + pbottom) / 2, "no traffic recorded", anchor="middle",
                         fill="#888"))
    out.append(f'<g clip-path="url(#{uid}-clip)">' + "".join(body) + "</g>")
    return out


def _line(line: Line, x: Callable[[float], float], yv: Callable[[float], float]) -> list[str]:
    attr = "data-check" if line.cls == "series-evidence" else "data-version"
    data = f' {attr}="{escape(line.key, quote=True)}"'
    out: list[str] = []
    segments: list[list[tuple[float, float]]] = [[]]
    for t, v in line.points:
        if v is None:
            if segments[-1]:
                segments.append([])
        else:
            segments[-1].append((x(t), yv(v)))
    segments = [s for s in segments if s]
    for i, seg in enumerate(segments):
        lo = 1 if line.partial_start and i == 0 and len(seg) > 1 else 0
        hi = len(seg) - 1 if line.partial_end and i == len(segments) - 1 and len(seg) - 1 > lo else len(seg)
        if hi - lo > 1:
            out.append(polyline(seg[lo:hi], line.color, cls=line.cls, data=data))
        if lo:
            out.append(polyline(seg[:2], line.color, cls=line.cls + " partial", data=data, dashed=True))
        if hi < len(seg):
            out.append(polyline(seg[-2:], line.color, cls=line.cls + " partial", data=data, dashed=True))
        if line.dots or len(seg) == 1:
            out.extend(f'<circle cx="{a:.1f}" cy="{b:.1f}" r="2.2" fill="{line.color}"/>' for a, b in seg)
    return out


def _legend(result: DrillResult, stack: list[Panel], lx: float, y: float, compact: bool) -> tuple[str, float]:
    """The legend from ``y`` down, wrapping; returns it and the baseline of its last row."""
    items: list[tuple[str, str, str]] = [(version_label(result, v), c, "line") for v, c in version_colors(result).items()]
    items.append(("canary weight", WEIGHT_COLOR, "area"))
    for panel in stack:
        if panel.cls == "panel-evidence":
            items += [(line.key, line.color, "line") for line in panel.lines]
    if not compact:
        items.append(("partial first / last second", "#777777", "dash"))
    phases = [p.name for p in result.phases]
    if not compact:
        items += [(f"{name}", PHASE_COLORS.get(name, "#f2f2f2"), "phase") for name in phases if name in PHASE_COLORS]
    out: list[str] = ['<g class="legend">']
    x0 = lx
    for label, color, kind in items:
        w = 25 + len(label) * 6.3
        if x0 > lx and x0 + w > WIDTH - 16:
            x0 = lx
            y += 17
        if kind in ("line", "dash"):
            dash = ' stroke-dasharray="4 3"' if kind == "dash" else ""
            out.append(f'<line x1="{x0}" x2="{x0 + 20}" y1="{y - 4}" y2="{y - 4}" stroke="{color}" '
                       f'stroke-width="{2 if dash else 3}"{dash}/>')
        else:
            opacity = ' fill-opacity="0.35"' if kind == "area" else ""
            stroke = color if kind == "area" else "#c8ccd0"
            out.append(f'<rect x="{x0}" y="{y - 10}" width="20" height="11" fill="{color}"{opacity} stroke="{stroke}"/>')
        out.append(text(x0 + 25, y, label, fill="#333", size=11))
        x0 += w + 16
    out.append("</g>")
    return "".join(out), y
