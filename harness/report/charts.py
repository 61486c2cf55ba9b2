"""Bar and dot charts as inline SVG for the run report (the target bar) and the summary report.

- `target_bar_svg(result)`: decision → verified completion against the target, and what the time
  went on (the wait before the runbook, then each step);
- `rate_bands_svg(groups)`: rollback rate per period against the standard's bands;
- `completion_svg(points, target_s)`: decision-to-completion of every rollback against the target
  (log time axis: drills take seconds, production rollbacks minutes to hours);
- `share_svg(rows)`: automated vs human-decided share;
- `causes_svg(counts)`: rollbacks per root-cause class.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from html import escape

from harness.engine.results import DrillResult, StepResult
from harness.report.svg import BAD, GOOD, NEUTRAL, WARN, num, open_svg, text

WIDTH = 960
STEP_COLORS = {"action": "#1f6fb4", "verify": "#16808a", "manual": "#7b3fa0", "failed": BAD, "skipped": "#c8ccd0"}
WAIT_COLOR = "#b0b7bf"
BANDS = ((0.0, 5.0, "excellent", "#dff0e2"), (5.0, 10.0, "acceptable", "#eef5d9"),
         (10.0, 20.0, "concerning", "#fdf0d5"), (20.0, math.inf, "high risk", "#fbe0dc"))
AUTOMATED_COLOR, HUMAN_COLOR, ANSWERS_COLOR = "#1f6fb4", "#e8a33d", "#7a7a7a"


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:,.2f} s"
    if seconds < 7200:
        return f"{num(round(seconds / 60, 1))} min"
    return f"{num(round(seconds / 3600, 1))} h"


def _step_kind(step: StepResult) -> str:
    if step.status.value in ("failed", "skipped"):
        return step.status.value
    return "manual" if step.manual else "verify" if step.verify else "action"


# ---- the run report's target bar -----------------------------------------------------------------

def target_bar_svg(result: DrillResult, width: int = WIDTH) -> str | None:
    """Two rows: decision → completion on the target's scale, then the same seconds broken down by step."""
    ts = result.timestamps
    if ts.decision_at is None or result.decision != "rollback":
        return None
    took = result.decision_to_completion_s
    ran = [s for s in result.steps if s.started_at is not None and s.ended_at is not None]
    end_at = ts.completed_at or (max(s.ended_at for s in ran if s.ended_at) if ran else None)
    if end_at is None:
        return None
    spent = max((end_at - ts.decision_at).total_seconds(), 1e-3)
    target = result.target_s
    left, right = 200, 24
    bar_w = width - left - right
    out: list[str] = []

    # Row 1: the target's scale.
    scale = max(target, spent) * 1.0
    y1 = 34

    def x1(s: float) -> float:
        return left + bar_w * min(s, scale) / scale

    ok = took is not None and took <= target
    color = GOOD if ok else BAD
    out.append(text(12, y1 + 15, "decision → completion", weight="600", fill="#222"))
    out.append(f'<rect class="target-scale" x="{left}" y="{y1}" width="{x1(target) - left:.1f}" height="22" '
               'fill="#f1f3f5" stroke="#c8ccd0"/>')
    out.append(f'<rect class="took" x="{left}" y="{y1}" width="{max(x1(spent) - left, 2.5):.1f}" height="22" '
               f'fill="{color}"/>')
    out.append(f'<line x1="{x1(target):.1f}" x2="{x1(target):.1f}" y1="{y1 - 6}" y2="{y1 + 28}" stroke="{WARN}" '
               'stroke-width="2"/>')
    target_txt = f"target {_duration(target)}"
    out.append(text(x1(target) - 4, y1 - 9, target_txt, anchor="end", fill=WARN, size=11, weight="600"))
    if took is not None:
        share = 100 * took / target
        verdict = (f"{_duration(took)} — {share:.2g} % of the {_duration(target)} target, "
                   f"{_spare(target - took)} to spare") if ok else \
            f"{_duration(took)} — over the {_duration(target)} target by {_duration(took - target)}"
    else:
        failed = next((s for s in result.steps if s.status.value == "failed"), None)
        verdict = "not completed" + (f": step {failed.name} failed after {_duration(spent)}" if failed else "")
    label_x = x1(spent) + 8
    anchor = "start"
    if label_x + len(verdict) * 6.6 > x1(target) - 8 and x1(spent) - left > len(verdict) * 6.6 + 16:
        label_x, anchor = x1(spent) - 8, "end"
    out.append(text(label_x, y1 + 15, verdict, anchor=anchor, fill="#fff" if anchor == "end" else color,
                    weight="600", cls="target-verdict"))
    step = _nice_time_step(scale, target)
    t = 0.0
    while t <= scale + 1e-9:
        out.append(f'<line x1="{x1(t):.1f}" x2="{x1(t):.1f}" y1="{y1 + 22}" y2="{y1 + 26}" stroke="#888"/>')
        out.append(text(x1(t), y1 + 38, _tick(t, scale), anchor="middle", fill="#555", size=10))
        t += step

    # Row 2: the same interval, stretched: the wait before the runbook, then each step.
    y2 = y1 + 70
    out.append(text(12, y2 + 15, "where the time went", weight="600", fill="#222"))

    def x2(at: datetime) -> float:
        s = (at - ts.decision_at).total_seconds() if ts.decision_at else 0.0
        return left + bar_w * min(max(s, 0.0), spent) / spent

    out.append(f'<rect x="{left}" y="{y2}" width="{bar_w}" height="22" fill="#fafbfc" stroke="#dde1e5"/>')
    legend: list[tuple[str, str]] = []
    if ts.rollback_started_at is not None and ts.rollback_started_at > ts.decision_at:
        w = x2(ts.rollback_started_at) - left
        wait = (ts.rollback_started_at - ts.decision_at).total_seconds()
        out.append(f'<rect class="segment" data-step="wait" x="{left}" y="{y2}" width="{max(w, 1):.1f}" height="22" '
                   f'fill="{WAIT_COLOR}"><title>{escape(f"decision to runbook start: {_duration(wait)}")}</title></rect>')
    for i, s in enumerate(ran, 1):
        assert s.started_at is not None and s.ended_at is not None
        a, b = x2(s.started_at), x2(s.ended_at)
        kind = _step_kind(s)
        c = STEP_COLORS[kind]
        tip = f"{i}. {s.name} ({s.action}): {_duration(s.duration_s or 0.0)}, {s.status.value}"
        out.append(f'<rect class="segment" data-step="{escape(s.name, quote=True)}" x="{a:.1f}" y="{y2}" '
                   f'width="{max(b - a, 1.5):.1f}" height="22" fill="{c}" stroke="#fff" stroke-width="0.5">'
                   f"<title>{escape(tip)}</title></rect>")
        if b - a >= 14:
            out.append(text((a + b) / 2, y2 + 15, str(i), anchor="middle", fill="#fff", size=11, weight="600"))
        legend.append((f"{i} {s.name} {_duration(s.duration_s or 0.0)}", c))
    step2 = _nice_time_step(spent)
    t = 0.0
    while t <= spent + 1e-9:
        xx = left + bar_w * t / spent
        out.append(f'<line x1="{xx:.1f}" x2="{xx:.1f}" y1="{y2 + 22}" y2="{y2 + 26}" stroke="#888"/>')
        out.append(text(xx, y2 + 38, _tick(t, spent), anchor="middle", fill="#555", size=10))
        t += step2
    # Legend of the steps, wrapping.
    ly, lx = y2 + 60, float(left)
    items = ([("wait before the runbook", WAIT_COLOR)] if ts.rollback_started_at and
             ts.rollback_started_at > ts.decision_at else []) + legend
    for label, c in items:
        w = 18 + len(label) * 6.2 + 14
        if lx > left and lx + w > width - right:
            lx, ly = float(left), ly + 17
        out.append(f'<rect x="{lx:.1f}" y="{ly - 10}" width="12" height="12" fill="{c}"/>')
        out.append(text(lx + 17, ly, label, size=11))
        lx += w
    height = int(ly + 12)
    title = f"Decision to completion of run {result.run_id} against the {_duration(target)} target"
    desc = verdict + "; steps: " + ", ".join(label for label, _ in legend)
    return open_svg(width, height, "target-bar", title, desc, "tb") + "".join(out) + "</svg>"


def _spare(seconds: float) -> str:
    """Margins stay in seconds up to two hours: '898.4 s', not a rounded '15 min'."""
    return f"{seconds:,.1f} s" if seconds < 7200 else _duration(seconds)


def _nice_time_step(span: float, divides: float | None = None) -> float:
    """A round step giving at most 10 ticks; one that divides ``divides`` (the target) when there is one."""
    steps = (0.05, 0.1, 0.2, 0.25, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 180, 300, 600, 900, 1800, 3600, 7200)
    fitting = [float(s) for s in steps if span / s <= 10]
    if divides is not None:
        for s in fitting:
            if abs(divides / s - round(divides / s)) < 1e-9:
                return s
    if fitting:
        return fitting[0]
    return 3600.0 * math.ceil(span / 36000)


def _tick(t: float, span: float) -> str:
    if span >= 300:
        return f"{num(round(t / 60, 1))} min"
    return f"{num(round(t, 2))} s"


# ---- the summary report --------------------------------------------------------------------------

def rate_bands_svg(groups: list[tuple[str, float | None, int, int]], width: int = WIDTH) -> str:
    """Bars of rollback rate per period (key, rate %, rollbacks, deployments) over the standard's bands."""
    left, right, top, h = 70, 150, 30, 200
    plot_w = width - left - right
    rates = [r for _, r, _, _ in groups if r is not None]
    y_max = max(25.0, math.ceil(max(rates, default=0.0) / 5) * 5 + 5)

    def y(v: float) -> float:
        return top + h - h * min(v, y_max) / y_max

    out: list[str] = [text(left, 18, "Rollback rate per period against the standard's bands", size=13, weight="600",
                           fill="#222")]
    for lo, hi, name, fill in BANDS:
        a, b = y(lo), y(min(hi, y_max))
        out.append(f'<rect class="band" data-band="{name}" x="{left}" y="{b:.1f}" width="{plot_w}" '
                   f'height="{a - b:.1f}" fill="{fill}"/>')
        out.append(text(width - right + 8, (a + b) / 2 + 4, f"{name} ({_band_range(lo, hi)})", size=11,
                        fill=NEUTRAL))
    for v in range(0, int(y_max) + 1, 5):
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#fff" '
                   'stroke-opacity="0.8"/>')
        out.append(text(left - 6, y(v) + 4, f"{v}%", anchor="end", fill="#444"))
    n = max(len(groups), 1)
    slot = plot_w / n
    bw = min(60.0, slot * 0.6)
    for i, (key, rate, rollbacks, deployments) in enumerate(groups):
        cx = left + slot * (i + 0.5)
        if rate is None:
            out.append(text(cx, y(0) - 6, "no deploys", anchor="middle", fill="#888", size=10))
        else:
            color = _band_ink(band_of(rate))
            out.append(f'<rect class="rate" data-period="{escape(key, quote=True)}" x="{cx - bw / 2:.1f}" '
                       f'y="{y(rate):.1f}" width="{bw:.1f}" height="{y(0) - y(rate):.1f}" fill="{color}">'
                       f"<title>{escape(f'{key}: {rate:.1f} % ({rollbacks} of {deployments} deployments)')}</title></rect>")
            out.append(text(cx, y(rate) - 5, f"{rate:.1f}%", anchor="middle", fill="#222", size=11, weight="600"))
        short = key.split("-", 1)[1] if len(key) * 7.4 > slot - 6 and "-" in key else key
        out.append(text(cx, top + h + 16, short, anchor="middle", fill="#444", size=11))
        out.append(text(cx, top + h + 30, f"{rollbacks}/{deployments}", anchor="middle", fill="#888", size=10))
    if not groups:
        out.append(text(left + plot_w / 2, top + h / 2, "no deployments in the period", anchor="middle", fill="#888"))
    out.append(f'<rect x="{left}" y="{top}" width="{plot_w}" height="{h}" fill="none" stroke="#c8ccd0"/>')
    height = top + h + 40
    desc = "; ".join(f"{k}: {'—' if r is None else f'{r:.1f} %'}" for k, r, _, _ in groups)
    return open_svg(width, height, "rate-bands", "Rollback rate per period", desc or "no data", "rb") + "".join(out) + "</svg>"


def band_of(rate_pct: float) -> str:
    """The standard's band, with the store's edges (harness.store.metrics.band_for): 5 % is acceptable,
    10 % still acceptable, 20 % still concerning."""
    if rate_pct < 5:
        return "excellent"
    return "acceptable" if rate_pct <= 10 else "concerning" if rate_pct <= 20 else "high risk"


def _band_range(lo: float, hi: float) -> str:
    return f"> {lo:g} %" if hi == math.inf else f"< {hi:g} %" if lo == 0 else f"{lo:g}–{hi:g} %"


def _band_ink(name: str) -> str:
    return {"excellent": GOOD, "acceptable": "#6a8f1e", "concerning": WARN, "high risk": BAD}[name]


@dataclass(frozen=True)
class CompletionPoint:
    at: datetime  # when the rollback was decided
    seconds: float  # decision to completion
    kind: str  # production | drill
    label: str  # what a hover shows (model and versions, or the run id)
    href: str | None = None  # the run report, for drills


def completion_svg(points: list[CompletionPoint], target_s: float, width: int = WIDTH) -> str:
    """Every rollback's decision-to-completion time (log axis) over time, against the target line."""
    left, right, top, h = 70, 24, 30, 220
    plot_w = width - left - right
    secs = [p.seconds for p in points if p.seconds > 0] + [target_s]
    lo = math.floor(math.log10(max(min(secs), 0.1)))
    hi = math.ceil(math.log10(max(secs) * 1.5))
    if hi <= lo:
        hi = lo + 1

    def y(s: float) -> float:
        return top + h - h * (math.log10(max(s, 10.0 ** lo)) - lo) / (hi - lo)

    times = [p.at.timestamp() for p in points]
    t0, t1 = (min(times), max(times)) if times else (0.0, 1.0)
    if t1 - t0 < 1:
        t0, t1 = t0 - 3600, t1 + 3600
    pad = (t1 - t0) * 0.03

    def x(at: datetime) -> float:
        return left + plot_w * (at.timestamp() - t0 + pad) / (t1 - t0 + 2 * pad)

    within = sum(p.seconds <= target_s for p in points)
    out: list[str] = [text(left, 18, f"Decision to completion of every rollback against the {_duration(target_s)} "
                           f"target — {within} of {len(points)} within", size=13, weight="600", fill="#222")]
    out.append(f'<rect x="{left}" y="{top}" width="{plot_w}" height="{h}" fill="#fbfcfd" stroke="#c8ccd0"/>')
    out.append(f'<rect x="{left}" y="{y(10.0 ** hi):.1f}" width="{plot_w}" height="{y(target_s) - y(10.0 ** hi):.1f}" '
               'fill="#fbe0dc" fill-opacity="0.5"/>')
    ticks = [(1, "1 s"), (10, "10 s"), (60, "1 min"), (300, "5 min"), (900, "15 min"), (3600, "1 h"),
             (4 * 3600, "4 h"), (86400, "1 day"), (0.1, "0.1 s")]
    for s, label in ticks:
        if 10.0 ** lo <= s <= 10.0 ** hi:
            out.append(f'<line x1="{left}" x2="{width - right}" y1="{y(s):.1f}" y2="{y(s):.1f}" stroke="#e3e6e9"/>')
            out.append(text(left - 6, y(s) + 4, label, anchor="end", fill="#444", size=11))
    out.append(f'<line class="target" x1="{left}" x2="{width - right}" y1="{y(target_s):.1f}" y2="{y(target_s):.1f}" '
               f'stroke="{WARN}" stroke-width="2" stroke-dasharray="6 4"/>')
    out.append(text(width - right - 4, y(target_s) - 5, f"target {_duration(target_s)}", anchor="end", fill=WARN,
                    size=11, weight="600"))
    for p in points:
        color = GOOD if p.seconds <= target_s else BAD
        cx, cy = x(p.at), y(p.seconds)
        tip = f"{p.label}: {_duration(p.seconds)}"
        if p.kind == "drill":
            shape = (f'<path class="point drill" d="M{cx:.1f},{cy - 5:.1f}L{cx + 5:.1f},{cy:.1f}L{cx:.1f},{cy + 5:.1f}'
                     f'L{cx - 5:.1f},{cy:.1f}Z" fill="{color}" stroke="#fff"><title>{escape(tip)}</title></path>')
            if p.href:
                shape = f'<a href="{escape(p.href, quote=True)}">{shape}</a>'
        else:
            shape = (f'<circle class="point production" cx="{cx:.1f}" cy="{cy:.1f}" r="4" fill="{color}" '
                     f'fill-opacity="0.75"><title>{escape(tip)}</title></circle>')
        out.append(shape)
    if not points:
        out.append(text(left + plot_w / 2, top + h / 2, "no rollbacks in the period", anchor="middle", fill="#888"))
    else:
        ticks_t = [t0 + (t1 - t0) * i / 6 for i in range(7)] if t1 - t0 > 86400 else [t0, t1]
        for i, tt in enumerate(ticks_t):
            at = datetime.fromtimestamp(tt, tz=points[0].at.tzinfo)
            xx = x(at)
            out.append(f'<line x1="{xx:.1f}" x2="{xx:.1f}" y1="{top + h}" y2="{top + h + 4}" stroke="#888"/>')
            fmt = "%Y-%m-%d" if i in (0, len(ticks_t) - 1) else "%b %d"
            out.append(text(xx, top + h + 16, at.strftime(fmt if t1 - t0 > 86400 else "%Y-%m-%d %H:%M"),
                            anchor="middle", fill="#444", size=11))
    ly = top + h + 36
    out.append(f'<circle cx="{left + 6}" cy="{ly - 4}" r="4" fill="{NEUTRAL}"/>')
    out.append(text(left + 16, ly, "production rollback", size=11))
    lx = left + 160
    out.append(f'<path d="M{lx},{ly - 9}L{lx + 5},{ly - 4}L{lx},{ly + 1}L{lx - 5},{ly - 4}Z" fill="{NEUTRAL}"/>')
    out.append(text(lx + 10, ly, "drill run (links to its report)", size=11))
    out.append(f'<rect x="{lx + 230}" y="{ly - 10}" width="12" height="12" fill="{GOOD}"/>')
    out.append(text(lx + 246, ly, "within target", size=11))
    out.append(f'<rect x="{lx + 340}" y="{ly - 10}" width="12" height="12" fill="{BAD}"/>')
    out.append(text(lx + 356, ly, "over target", size=11))
    desc = f"{within} of {len(points)} rollbacks completed within {_duration(target_s)}"
    return open_svg(width, ly + 10, "completion", "Decision to completion of every rollback", desc, "dc") + "".join(out) + "</svg>"


def share_text(label: str, automated: int, person: int, scripted: int) -> str:
    """One row of who decided, in words (an answers file's count shown wherever a drill run could have one)."""
    shown = scripted or label != "production"
    return f"{label}: {automated} automated, {person} by a person" + (f", {scripted} from an answers file" if shown else "")


def share_svg(rows: list[tuple[str, int, int, int]], width: int = WIDTH) -> str:
    """Stacked bars: (label, automated, by a person, from an answers file) per row."""
    left, right, top, row_h = 150, 24, 30, 30
    plot_w = width - left - right
    out: list[str] = [text(12, 18, "Who decided the rollback: automated analysis, a person, or an answers file",
                           size=13, weight="600", fill="#222")]
    for i, (label, auto, human, scripted) in enumerate(rows):
        y = top + i * (row_h + 10)
        total = auto + human + scripted
        out.append(text(12, y + 19, label, fill="#222", weight="600"))
        if total == 0:
            out.append(text(left, y + 19, "no rollbacks", fill="#888"))
            continue
        x0 = float(left)
        for cls, n, color, name in (("automated", auto, AUTOMATED_COLOR, "automated"),
                                    ("human", human, HUMAN_COLOR, "person"),
                                    ("answers-file", scripted, ANSWERS_COLOR, "answers file")):
            if n == 0:
                continue
            w, pct = plot_w * n / total, 100 * n / total
            out.append(f'<rect class="share {cls}" x="{x0:.1f}" y="{y}" width="{w:.1f}" height="{row_h}" '
                       f'fill="{color}"><title>{escape(f"{label}: {name} {n} ({pct:.0f} %)")}</title></rect>')
            caption = f"{name} {n} ({pct:.0f} %)"
            if w > len(caption) * 6.6 + 8:
                out.append(text(x0 + w / 2, y + 20, caption, anchor="middle", fill="#fff", weight="600", size=11))
            x0 += w
    height = top + len(rows) * (row_h + 10) + 6
    desc = "; ".join(share_text(*row) for row in rows)
    return open_svg(width, height, "share", "Automated, human-decided and scripted rollbacks", desc or "none", "sh") \
        + "".join(out) + "</svg>"


def causes_svg(counts: list[tuple[str, int, int]], width: int = WIDTH) -> str:
    """Horizontal bars per root cause: (cause, production rollbacks, drill runs)."""
    left, right, top, row_h = 150, 170, 30, 22
    plot_w = width - left - right
    top_n = max([p + d for _, p, d in counts] + [1])
    out: list[str] = [text(12, 18, "Rollbacks per root cause (production solid, drill runs dashed)", size=13,
                           weight="600", fill="#222")]
    for i, (cause, prod, drill) in enumerate(counts):
        y = top + i * (row_h + 6)
        out.append(text(left - 8, y + 15, cause, anchor="end", fill="#222"))
        wp = plot_w * prod / top_n
        wd = plot_w * drill / top_n
        if prod:
            out.append(f'<rect class="cause production" data-cause="{escape(cause, quote=True)}" x="{left}" y="{y}" '
                       f'width="{wp:.1f}" height="{row_h}" fill="#8e44ad"/>')
        if drill:
            out.append(f'<rect class="cause drill" data-cause="{escape(cause, quote=True)}" x="{left + wp:.1f}" y="{y}" '
                       f'width="{wd:.1f}" height="{row_h}" fill="#d7bde2" stroke="#8e44ad" stroke-dasharray="3 2"/>')
        label = f"{prod}" + (f" + {drill} drill" if drill else "") + (" · repeated" if prod >= 2 else "")
        out.append(text(left + wp + wd + 6, y + 15, label, fill=BAD if prod >= 2 else "#444", size=11))
    if not counts:
        out.append(text(left, top + 15, "no rollbacks in the period", fill="#888"))
    height = top + max(len(counts), 1) * (row_h + 6) + 6
    desc = "; ".join(f"{c}: {p} production, {d} drill" for c, p, d in counts)
    return open_svg(width, height, "causes", "Rollbacks per root cause", desc or "none", "rc") + "".join(out) + "</svg>"
