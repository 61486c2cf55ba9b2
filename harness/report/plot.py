"""The run timeline as inline SVG, drawn by hand (no plotting library, no external assets).

Two panels on one time axis (seconds since the run started):

- traffic: requests per second per serving version, and the canary weight (shaded step, right axis);
- error rate: failed / requests per second per version (drawn only where that version had traffic);

with vertical marks at deployed, first breach, decision, rollback start and completion, and the
decision-to-completion target (decision + target_s) — drawn when it falls on or near the chart,
otherwise named in a note saying where it would be.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from html import escape

from harness.results import DrillResult

WIDTH = 960
LEFT, RIGHT = 64, 64  # room for the two y axes
TRAFFIC_H, ERROR_H, PANEL_GAP = 180, 120, 34
LABEL_ROW_H = 15
FONT = "font-family=\"system-ui, -apple-system, 'Segoe UI', sans-serif\""

STABLE_COLOR, CANDIDATE_COLOR = "#1f6fb4", "#e8710a"
OTHER_COLORS = ("#7b3fa0", "#2a9d4b", "#8c564b", "#555555")
WEIGHT_COLOR = "#9aa5b1"
MARK_COLORS = {
    "deployed": "#2a7d2a",
    "first breach": "#c0392b",
    "decision": "#8e44ad",
    "rollback start": "#d35400",
    "completed": "#16808a",
    "target": "#b8860b",
}
EXTEND_FOR_TARGET = 1.25  # stretch the axis to show the target if it lies within 25 % past the end


@dataclass(frozen=True)
class Mark:
    label: str
    t: float  # seconds since the run started
    color: str
    dashed: bool = True


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
    """The right edge of the time axis: the run, stretched to the target if it is just past it."""
    end = _data_end(result)
    target = target_at(result)
    if target is not None and end < target <= end * EXTEND_FOR_TARGET:
        end = target * 1.02
    return end


def target_note(result: DrillResult) -> str | None:
    """A sentence on where the target mark is, when it is not on the chart; None when it is (or no decision)."""
    target = target_at(result)
    if target is None:
        return None
    end = axis_end(result)
    if target <= end:
        return None
    text = (f"The {fmt_target(result.target_s)} target (decision + {result.target_s:g} s) would be at "
            f"t = {target:,.1f} s since the start, off the chart's right edge (the chart ends at {end:.1f} s)")
    completed = _since(result, result.timestamps.completed_at)
    if completed is not None:
        text += f"; the run completed {target - completed:,.1f} s before it"
    return text + "."


def nice_step(span: float, count: int = 6) -> float:
    if span <= 0:
        return 1.0
    raw = span / count
    power = 10.0 ** math.floor(math.log10(raw))
    for mult in (1, 2, 2.5, 5, 10):
        if raw <= mult * power:
            return mult * power
    return 10 * power


def _nice_max(value: float, floor: float) -> float:
    value = max(value, floor)
    step = nice_step(value, 4)
    return math.ceil(value / step - 1e-9) * step


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".") if value != int(value) else str(int(value))


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


CHAR_W = 6.4  # average width of an 11px label character


def label_box(px: float, text: str, width: int) -> tuple[float, float, str]:
    """(start, end, anchor) of a mark label: right of its line, or left of it near the right edge."""
    w = len(text) * CHAR_W
    if px + 3 + w > width - 4:
        return px - 3 - w, px - 3, "end"
    return px + 3, px + 3 + w, "start"


def _label_rows(xs: list[float], boxes: list[tuple[float, float]], gap: float = 6) -> list[int]:
    """A row per label (0 = just above the plot) so labels neither overlap nor get crossed by a mark's line.

    A mark's line rises to its own label's row, so it crosses a label on that row or a lower one.
    Placed right to left, each label takes the lowest row that is free of overlapping labels, above
    every line inside its box, and below every label whose box holds its line.
    """
    n = len(xs)
    rows: dict[int, int] = {}
    for i in sorted(range(n), key=lambda k: -xs[k]):
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


def timeline_svg(result: DrillResult, width: int = WIDTH) -> str:
    """The whole chart as one <svg> element (text escaped; safe to inline in HTML)."""
    end = axis_end(result)
    plot_w = width - LEFT - RIGHT

    def x(t: float) -> float:
        return LEFT + plot_w * min(max(t, 0.0), end) / end

    all_marks = marks(result)
    target = target_at(result)
    target_on_chart = target is not None and target <= end
    if target_on_chart:
        assert target is not None
        all_marks.append(Mark(f"target (decision + {result.target_s:g} s)", target, MARK_COLORS["target"], False))
    labelled = sorted(((x(m.t), f"{m.label} {_num(round(m.t, 1))} s", m) for m in all_marks), key=lambda i: i[0])
    boxes = [label_box(px, text, width) for px, text, _ in labelled]
    rows = _label_rows([px for px, _, _ in labelled], [(a, b) for a, b, _ in boxes])
    n_rows = max(rows, default=-1) + 1
    note_h = 0 if target_on_chart or target is None else LABEL_ROW_H
    top = 28 + note_h + max(n_rows, 1) * LABEL_ROW_H
    traffic_top, traffic_bottom = top, top + TRAFFIC_H
    error_top = traffic_bottom + PANEL_GAP
    error_bottom = error_top + ERROR_H
    legend_y = error_bottom + 54
    height = legend_y + 22

    colors = version_colors(result)
    points = result.timeline
    max_req = max((n for p in points for n in p.requests.values()), default=0)
    req_max = _nice_max(max_req, 10)
    rates = [p.failed.get(v, 0) / n for p in points for v, n in p.requests.items() if n]
    rate_max = min(_nice_max(max(rates, default=0.0) * 100, 10), 100.0)

    def y_req(v: float) -> float:
        return traffic_bottom - TRAFFIC_H * v / req_max

    def y_weight(w: float) -> float:
        return traffic_bottom - TRAFFIC_H * w / 100

    def y_rate(pct: float) -> float:
        return error_bottom - ERROR_H * min(pct, rate_max) / rate_max

    out: list[str] = []
    title = f"Timeline of drill {result.drill}, run {result.run_id}"
    desc = ("Requests per second and error rate per model version over the run, the canary weight, and marks at "
            + ", ".join(f"{m.label} ({m.t:.1f} s)" for m in all_marks) + ".")
    out.append(f'<svg xmlns="http://www.w3.org/2000/svg" class="timeline" role="img" width="{width}" '
               f'height="{height}" viewBox="0 0 {width} {height}" aria-labelledby="tl-title tl-desc" {FONT} '
               'font-size="12">')
    out.append(f'<title id="tl-title">{escape(title)}</title><desc id="tl-desc">{escape(desc)}</desc>')
    out.append(f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>')
    out.append(f'<text x="{LEFT}" y="16" font-size="13" font-weight="600" fill="#222">'
               f'{escape("Client-side traffic and errors per model version")}</text>')
    if note_h:
        assert target is not None
        out.append(f'<text class="target-note" x="{width - RIGHT}" y="{28 + LABEL_ROW_H - 4}" text-anchor="end" '
                   f'fill="{MARK_COLORS["target"]}" font-size="11">'
                   f'{escape(f"{fmt_target(result.target_s)} target at t = {target:,.1f} s (decision + {result.target_s:g} s): off the chart →")}'
                   '</text>')

    # Panels: frame, grid, axes.
    for ptop, pbottom, _name in ((traffic_top, traffic_bottom, "requests / s"), (error_top, error_bottom, "error rate")):
        out.append(f'<rect x="{LEFT}" y="{ptop}" width="{plot_w}" height="{pbottom - ptop}" fill="#fafbfc" '
                   'stroke="#c8ccd0"/>')
    def grid(top: float, to_y: Callable[[float], float], unit: str) -> None:
        """Horizontal grid lines with left-axis labels at a nice step up to ``top``."""
        step = nice_step(top, 4)
        v = 0.0
        while v <= top + 1e-9:
            yy = to_y(v)
            out.append(f'<line x1="{LEFT}" x2="{width - RIGHT}" y1="{yy:.1f}" y2="{yy:.1f}" stroke="#e3e6e9"/>')
            out.append(f'<text x="{LEFT - 6}" y="{yy + 4:.1f}" text-anchor="end" fill="#444">{_num(v)}{unit}</text>')
            v += step

    grid(req_max, y_req, "")
    for w in (0, 25, 50, 75, 100):
        out.append(f'<text x="{width - RIGHT + 6}" y="{y_weight(w) + 4:.1f}" fill="{WEIGHT_COLOR}">{w}%</text>')
    grid(rate_max, y_rate, "%")
    mid_t = (traffic_top + traffic_bottom) / 2
    mid_e = (error_top + error_bottom) / 2
    out.append(f'<text transform="translate(16 {mid_t:.0f}) rotate(-90)" text-anchor="middle" fill="#333">'
               'requests / s</text>')
    out.append(f'<text transform="translate({width - 14} {mid_t:.0f}) rotate(90)" text-anchor="middle" '
               f'fill="{WEIGHT_COLOR}">canary weight</text>')
    out.append(f'<text transform="translate(16 {mid_e:.0f}) rotate(-90)" text-anchor="middle" fill="#333">'
               'error rate</text>')
    xstep = nice_step(end, 10)
    t = 0.0
    while t <= end + 1e-9:
        xx = x(t)
        for ptop, pbottom in ((traffic_top, traffic_bottom), (error_top, error_bottom)):
            out.append(f'<line x1="{xx:.1f}" x2="{xx:.1f}" y1="{ptop}" y2="{pbottom}" stroke="#eef0f2"/>')
        out.append(f'<text x="{xx:.1f}" y="{error_bottom + 16}" text-anchor="middle" fill="#444">{_num(t)}</text>')
        t += xstep
    out.append(f'<text x="{LEFT + plot_w / 2:.0f}" y="{error_bottom + 32}" text-anchor="middle" fill="#333">'
               f'{escape("seconds since the run started")}</text>')

    if not points:
        out.append(f'<text x="{LEFT + plot_w / 2:.0f}" y="{mid_t:.0f}" text-anchor="middle" fill="#888">'
                   'no traffic recorded</text>')
    else:
        # Canary weight: shaded step (the weight in force during each second).
        path = [f"M{x(points[0].t):.1f},{y_weight(0):.1f}"]
        for p in points:
            path.append(f"L{x(p.t):.1f},{y_weight(p.canary_weight):.1f}")
            path.append(f"L{x(p.t + 1):.1f},{y_weight(p.canary_weight):.1f}")
        path.append(f"L{x(points[-1].t + 1):.1f},{y_weight(0):.1f}Z")
        out.append(f'<path class="canary-weight" d="{"".join(path)}" fill="{WEIGHT_COLOR}" fill-opacity="0.25" '
                   f'stroke="{WEIGHT_COLOR}" stroke-width="1"/>')
        for version, color in colors.items():
            # Requests per second, at the middle of each second; a version absent in a second counts 0.
            present = [i for i, p in enumerate(points) if version in p.requests]
            first, last = present[0], present[-1]
            req = [(x(p.t + 0.5), y_req(p.requests.get(version, 0))) for p in points[first:last + 1]]
            # The run's first and last seconds are partial (load starting, load stopping): dashed, not a dip.
            lo = 1 if first == 0 and len(req) > 1 else 0
            hi = len(req) - 1 if last == len(points) - 1 and len(req) - 1 > lo else len(req)
            pieces = [(req[lo:hi], "")]
            if lo:
                pieces.append((req[:2], " partial"))
            if hi < len(req):
                pieces.append((req[-2:], " partial"))
            for piece, extra in pieces:
                if len(piece) == 1:
                    a, b = piece[0]
                    out.append(f'<circle cx="{a:.1f}" cy="{b:.1f}" r="2.5" fill="{color}"/>')
                elif piece:
                    dash = ' stroke-dasharray="4 3"' if extra else ""
                    out.append(f'<polyline class="series-requests{extra}" data-version="{escape(version)}" '
                               f'fill="none" stroke="{color}" stroke-width="2"{dash} '
                               f'points="{" ".join(f"{a:.1f},{b:.1f}" for a, b in piece)}"/>')
            # Error rate only where the version had traffic; gaps break the line.
            segments: list[list[tuple[float, float]]] = [[]]
            for p in points:
                n = p.requests.get(version, 0)
                if n:
                    segments[-1].append((x(p.t + 0.5), y_rate(100 * p.failed.get(version, 0) / n)))
                elif segments[-1]:
                    segments.append([])
            for seg in segments:
                if not seg:
                    continue
                out.append(f'<polyline class="series-errors" data-version="{escape(version)}" fill="none" '
                           f'stroke="{color}" stroke-width="2" '
                           f'points="{" ".join(f"{a:.1f},{b:.1f}" for a, b in seg)}"/>')
                out.extend(f'<circle cx="{a:.1f}" cy="{b:.1f}" r="2.5" fill="{color}"/>' for a, b in seg)

    # Marks across both panels, labels staggered on rows above the traffic panel.
    for (px, text, m), row, (bx, _, anchor) in zip(labelled, rows, boxes):
        dash = ' stroke-dasharray="5 3"' if m.dashed else ""
        label_y = top - 6 - row * LABEL_ROW_H
        out.append(f'<g class="mark" data-mark="{escape(m.label)}">')
        out.append(f'<line x1="{px:.1f}" x2="{px:.1f}" y1="{label_y + 3}" y2="{error_bottom}" stroke="{m.color}" '
                   f'stroke-width="1.5"{dash}/>')
        tx = bx if anchor == "start" else px - 3
        out.append(f'<text x="{tx:.1f}" y="{label_y}" text-anchor="{anchor}" fill="{m.color}" font-size="11">'
                   f'{escape(text)}</text>')
        out.append("</g>")

    # Legend.
    lx = LEFT
    items = [(version_label(result, v), c, "line") for v, c in colors.items()]
    items.append(("canary weight (right axis)", WEIGHT_COLOR, "area"))
    if len(points) > 1:
        items.append(("partial first / last second", "#777777", "dash"))
    for text, color, kind in items:
        if kind in ("line", "dash"):
            dash = ' stroke-dasharray="4 3"' if kind == "dash" else ""
            out.append(f'<line x1="{lx}" x2="{lx + 22}" y1="{legend_y - 4}" y2="{legend_y - 4}" stroke="{color}" '
                       f'stroke-width="{2 if dash else 3}"{dash}/>')
        else:
            out.append(f'<rect x="{lx}" y="{legend_y - 10}" width="22" height="11" fill="{color}" '
                       f'fill-opacity="0.35" stroke="{color}"/>')
        out.append(f'<text x="{lx + 28}" y="{legend_y}" fill="#333">{escape(text)}</text>')
        lx += 28 + int(len(text) * 6.8) + 22
    out.append("</svg>")
    return "\n".join(out)
