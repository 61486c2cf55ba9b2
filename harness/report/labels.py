"""Placing text labels above marks without overlaps (rows, fewest crossings)."""


from __future__ import annotations

from harness.report.svg import (
    CHAR_W,
)
from harness.report.timeline_model import *  # noqa: F403


def label_box(px: float, text_: str, width: int) -> tuple[float, float, str]:
    """(start, end, anchor) of a mark label: right of its line, or left of it near the right edge."""
    w = len(text_) * CHAR_W
    if px + 3 + w > width - 4:
        return px - 3 - w, px - 3, "end"
    return px + 3, px + 3 + w, "start"


def label_rows(xs: list[float], boxes: list[tuple[float, float]], gap: float = 6,
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
            rows = label_rows(xs, spans, right_to_left=right_to_left)
            score = (crossings(xs, spans, rows), max(rows, default=-1), n)
            if best is None or score < best[0]:
                best = (score, boxes, rows)
    assert best is not None
    return best[1], best[2]


# ---- panels ----------------------------------------------------------------------------------

