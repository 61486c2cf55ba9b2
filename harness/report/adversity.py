"""The way back in the HTML report: faults that struck it (when, for how long, which step absorbed them)
drawn on the timeline's time axis, and decision -> completion broken down by step against the target.

The strip uses the timeline's window and margins (``timeline_model``), so it lines up under the chart.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from harness.engine.results import DrillResult, StepResult
from harness.report.svg import num, open_svg, text
from harness.report.timeline_model import LEFT, RIGHT, WIDTH, Window, since

FAULT_COLOR = "#c0392b"
STEP_COLORS = {"ok": "#7f8c8d", "failed": "#e67e22", "skipped": "#d0d0d0"}
ROW_H = 18


@dataclass(frozen=True)
class StepShare:
    """One slice of decision -> completion: a step (or the wait before it) and its share of the target."""

    name: str
    seconds: float
    attempts: int
    status: str
    share_of_target: float


def breakdown(result: DrillResult) -> list[StepShare]:
    """Decision -> completion (or -> the last step's end) by step, the gaps between steps named as waits."""
    decided = result.timestamps.decision_at
    if decided is None:
        return []
    steps = [s for s in result.steps if s.started_at is not None and s.ended_at is not None and s.started_at >= decided]
    out: list[StepShare] = []
    cursor = decided
    end = result.timestamps.completed_at
    for step in steps:
        assert step.started_at is not None and step.ended_at is not None
        if end is not None and step.started_at > end:
            break
        gap = (step.started_at - cursor).total_seconds()
        if gap > 0.05:
            out.append(StepShare("(between steps)", round(gap, 3), 0, "wait", gap / result.target_s))
        took = (step.ended_at - step.started_at).total_seconds()
        out.append(StepShare(step.name, round(took, 3), step.attempts, step.status.value, took / result.target_s))
        cursor = step.ended_at
    return out


def strip_svg(result: DrillResult, win: Window, width: int = WIDTH) -> str | None:
    """Faults and rollback steps as bars on the timeline's time axis; None when nothing struck."""
    if not result.adversity:
        return None
    steps = [s for s in result.steps if s.started_at is not None and result.timestamps.decision_at is not None
             and s.started_at >= result.timestamps.decision_at]
    rows = len(result.adversity) + len(steps)
    height = 34 + rows * ROW_H + 10
    plot_w = width - LEFT - RIGHT
    span = max(win.end - win.start, 1e-9)

    def x(t: float) -> float:
        return LEFT + plot_w * (min(max(t, win.start), win.end) - win.start) / span

    out = [open_svg(width, height, "adversity-strip", "Adversity on the way back",
                    "When each fault struck and for how long, under the runbook steps it met", "adv"),
           text(LEFT, 16, "adversity (red) and rollback steps (grey: ok, orange: failed), seconds since start",
                fill="#555", size=11)]
    y = 30
    for record in result.adversity:
        t0, t1 = since(result, record.struck_at), since(result, record.ended_at or result.timestamps.ended_at)
        label = f"{record.kind} @{record.at}"
        if t0 is not None:
            x0, x1 = x(t0), x(t1 if t1 is not None else win.end)
            out.append(f'<rect class="fault" x="{x0:.1f}" y="{y + 2}" width="{max(x1 - x0, 2):.1f}" height="{ROW_H - 5}" '
                       f'fill="{FAULT_COLOR}" opacity="0.75"><title>{escape(label)}: {escape(record.target)}, '
                       f'{num(record.active_s or 0)} s</title></rect>')
            out.append(_label(x1, width, y, f"{label} · {num(record.active_s or 0)} s", FAULT_COLOR))
        else:
            out.append(text(LEFT + 4, y + 12, f"{label} not struck: {record.error or 'its moment never came'}", size=10))
        y += ROW_H
    for step in steps:
        out.append(_step_bar(result, step, x, y))
        y += ROW_H
    out.append("</svg>")
    return "".join(out)


def _step_bar(result: DrillResult, step: StepResult, x: object, y: int) -> str:
    assert callable(x)
    t0, t1 = since(result, step.started_at), since(result, step.ended_at)
    color = STEP_COLORS.get(step.status.value, "#999")
    parts = []
    if t0 is not None and t1 is not None:
        x0, x1 = float(x(t0)), float(x(t1))
        parts.append(f'<rect class="step" x="{x0:.1f}" y="{y + 3}" width="{max(x1 - x0, 2):.1f}" height="{ROW_H - 7}" '
                     f'fill="{color}"><title>{escape(step.name)}: {num(step.duration_s or 0)} s, '
                     f'{step.attempts} attempt(s)</title></rect>')
        parts.append(_label(x1, WIDTH, y, f"{step.name} · {num(step.duration_s or 0)} s × {step.attempts}", "#555"))
    return "".join(parts)


def _label(x_end: float, width: int, y: int, content: str, fill: str) -> str:
    """Right of the bar, or left of its end when the bar reaches the right edge."""
    if x_end + 8 * len(content) < width:
        return text(x_end + 4, y + 12, content, size=10, fill=fill)
    return text(x_end - 4, y + 12, content, anchor="end", size=10, fill=fill)


def section(result: DrillResult, win: Window) -> str:
    """The report's "Way back" section: the strip, the faults' table and the by-step breakdown."""
    parts: list[str] = []
    strip = strip_svg(result, win)
    if strip is not None:
        parts.append("<h2>Adversity on the way back</h2>")
        parts.append(f'<div class="chart">{strip}</div>')
        rows = []
        for a in result.adversity:
            absorbed = ", ".join(f"{s.step} ({s.status}, {s.attempts} attempt(s), {num(s.duration_s or 0)} s)"
                                 for s in a.absorbed_by) or "—"
            rows.append(f"<tr><td>{escape(a.kind)}</td><td>{escape(a.at)}</td><td>{escape(a.target)}</td>"
                        f"<td>{num(a.active_s) if a.active_s is not None else '—'} s</td><td>{escape(absorbed)}</td>"
                        f"<td>{escape(a.error or '')}</td></tr>")
        parts.append('<table class="adversity"><thead><tr><th>fault</th><th>at</th><th>struck</th><th>for</th>'
                     "<th>steps it met (status, attempts, time)</th><th>problem</th></tr></thead><tbody>"
                     + "".join(rows) + "</tbody></table>")
    shares = breakdown(result)
    if shares:
        total = sum(s.seconds for s in shares)
        parts.append("<h2>Decision → completion by step</h2>")
        parts.append(f"<p>{num(round(total, 2))} s of the {num(result.target_s)} s target "
                     f"({total / result.target_s:.2%}).</p>")
        body = "".join(f"<tr><td>{escape(s.name)}</td><td>{escape(s.status)}</td><td>{s.attempts or ''}</td>"
                       f"<td>{s.seconds:.3f}</td><td>{s.share_of_target:.3%}</td></tr>" for s in shares)
        parts.append('<table class="by-step"><thead><tr><th>step</th><th>status</th><th>attempts</th><th>s</th>'
                     "<th>share of target</th></tr></thead><tbody>" + body + "</tbody></table>")
    return "".join(parts)
