"""Small helpers for hand-drawn inline SVG (no plotting library, no external assets): scales, ticks, text.

Every string that reaches the SVG goes through ``escape``; numbers are formatted here so that the
charts of the run report (plot.py) and of the summary report (charts.py) read alike.
"""

from __future__ import annotations

import math
from html import escape

FONT = "font-family=\"system-ui, -apple-system, 'Segoe UI', sans-serif\""
CHAR_W = 6.4  # average width of an 11px label character
GOOD, BAD, WARN, NEUTRAL = "#1e7d34", "#b3261e", "#b8860b", "#56606b"


def nice_step(span: float, count: int = 6) -> float:
    """A 1-2-2.5-5 step that cuts ``span`` into about ``count`` parts."""
    if span <= 0:
        return 1.0
    raw = span / count
    power = 10.0 ** math.floor(math.log10(raw))
    for mult in (1, 2, 2.5, 5, 10):
        if raw <= mult * power:
            return mult * power
    return 10 * power


def nice_max(value: float, floor: float) -> float:
    """The smallest nice round number at or above ``max(value, floor)``."""
    value = max(value, floor)
    step = nice_step(value, 4)
    return math.ceil(value / step - 1e-9) * step


def num(value: float) -> str:
    """12 -> '12', 2.5 -> '2.5', 0.25 -> '0.25' (ticks), 1234.5 -> '1,234.5'."""
    if value == int(value):
        return f"{int(value):,}"
    text = f"{value:,.2f}".rstrip("0").rstrip(".")
    return text


def decade(k: int) -> str:
    """Tick text for 10**k on a log axis."""
    value = 10.0 ** k
    if -3 <= k <= 4:
        return f"{value:g}"
    return f"1e{k}"


def log_range(values: list[float]) -> tuple[int, int]:
    """Whole decades [lo, hi] (hi > lo) that hold every positive value."""
    positive = [v for v in values if v > 0 and math.isfinite(v)]
    if not positive:
        return 0, 1
    lo = math.floor(math.log10(min(positive)))
    hi = math.ceil(math.log10(max(positive)))
    return (lo, hi if hi > lo else lo + 1)


def text(x: float, y: float, content: str, *, anchor: str = "start", fill: str = "#333", size: int | None = None,
         weight: str | None = None, cls: str | None = None, extra: str = "") -> str:
    attrs = [f'x="{x:.1f}"', f'y="{y:.1f}"']
    if anchor != "start":
        attrs.append(f'text-anchor="{anchor}"')
    attrs.append(f'fill="{fill}"')
    if size:
        attrs.append(f'font-size="{size}"')
    if weight:
        attrs.append(f'font-weight="{weight}"')
    if cls:
        attrs.append(f'class="{escape(cls, quote=True)}"')
    if extra:
        attrs.append(extra)
    return f"<text {' '.join(attrs)}>{escape(content)}</text>"


def open_svg(width: int, height: int, cls: str, title: str, desc: str, uid: str) -> str:
    """The opening <svg> with an accessible title and description (ids made unique by ``uid``)."""
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="{escape(cls, quote=True)}" role="img" width="{width}" '
            f'height="{height}" viewBox="0 0 {width} {height}" aria-labelledby="{uid}-title {uid}-desc" {FONT} '
            f'font-size="12"><title id="{uid}-title">{escape(title)}</title><desc id="{uid}-desc">{escape(desc)}</desc>'
            f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>')


def polyline(points: list[tuple[float, float]], color: str, *, cls: str = "", width: float = 2,
             dashed: bool = False, data: str = "") -> str:
    dash = ' stroke-dasharray="4 3"' if dashed else ""
    klass = f' class="{escape(cls, quote=True)}"' if cls else ""
    return (f'<polyline{klass}{data} fill="none" stroke="{color}" stroke-width="{width}"{dash} '
            f'points="{" ".join(f"{a:.1f},{b:.1f}" for a, b in points)}"/>')
