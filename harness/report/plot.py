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
from html import escape

from harness.engine.results import DrillResult
from harness.report.labels import place_labels
from harness.report.panels import Line, Panel, panels
from harness.report.svg import (
    decade,
    nice_step,
    num,
    open_svg,
    polyline,
    text,
)
from harness.report.timeline_model import (
    LABEL_ROW_H,
    LEFT,
    MARK_COLORS,
    PANEL_GAP,
    PHASE_COLORS,
    RIGHT,
    WEIGHT_COLOR,
    WIDTH,
    Mark,
    Window,
    axis_end,
    marks,
    since,
    target_at,
    version_colors,
    version_label,
    zoom_window,
)


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
        a, b = since(result, ph.started_at), since(result, ph.ended_at)
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
