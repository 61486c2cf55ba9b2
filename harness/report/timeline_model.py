"""What the run timeline shows: its marks, the zoom window, the target note, version colours and signals."""


from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from harness.engine.results import DrillResult

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
                "rollback": "#fdebe7", "promote": "#e9f5ea", "bake": "#f1f8e9", "teardown": "#eef0f2"}
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


def since(result: DrillResult, moment: datetime | None) -> float | None:
    return None if moment is None else (moment - result.timestamps.started_at).total_seconds()


def marks(result: DrillResult) -> list[Mark]:
    """The moments of the run, in seconds since it started (absent moments are left out)."""
    ts = result.timestamps
    found = []
    for label, moment in (("deployed", ts.deployed_at), ("first breach", ts.first_breach_at),
                          ("decision", ts.decision_at), ("rollback start", ts.rollback_started_at),
                          ("completed", ts.completed_at)):
        t = since(result, moment)
        if t is not None:
            found.append(Mark(label, t, MARK_COLORS[label]))
    return found


def target_at(result: DrillResult) -> float | None:
    """Where decision + target falls, in seconds since the start (None without a decision)."""
    decided = since(result, result.timestamps.decision_at)
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
    deployed = since(result, result.timestamps.deployed_at)
    if deployed is None:
        return Window(0.0, full, False)
    done = since(result, result.timestamps.completed_at)
    if done is None:  # missed, held, failed rollback: show until teardown began (or the end)
        teardown = next((p for p in result.phases if p.name == "teardown"), None)
        done = (since(result, teardown.started_at) if teardown else None) or full
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
    completed = since(result, result.timestamps.completed_at)
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


