"""The run report's zoomed timeline, fault-signal panels, target bar and outcome colours; the summary charts."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import timedelta

import pytest

from harness.engine.results import (
    Evidence,
    EvidencePoint,
    PhaseResult,
    RunStatus,
    StepStatus,
    TimelinePoint,
    Timestamps,
)
from harness.report import charts, html, plot, timeline_model
from harness.report import panels as report_panels
from harness.report.outcome import outcome, rolled_back_css
from tests.report.test_reports import T0, at, make_result, parse_html, step

SVG = "{http://www.w3.org/2000/svg}"


def cold_result(**changes: object) -> object:
    """make_result shifted 60 s later: a cold start (image build) before the same 12 s of drill."""
    base = make_result()
    ts = base.timestamps
    shift = timedelta(seconds=60)
    moved = Timestamps(T0, *(None if m is None else m + shift for m in (
        ts.deployed_at, ts.first_breach_at, ts.decision_at, ts.rollback_started_at, ts.completed_at, ts.ended_at)))
    timeline = tuple(replace(p, t=p.t + 60) for p in base.timeline)
    phases = (PhaseResult("prepare", T0, at(61.9), 61.9, "ok"), PhaseResult("baseline", at(61.9), at(65), 3.1, "ok"),
              PhaseResult("deploy", at(65), at(66.1), 1.1, "ok"), PhaseResult("detect", at(66.1), at(69.7), 3.6, "ok"),
              PhaseResult("rollback", at(69.7), at(71.3), 1.6, "ok"),
              PhaseResult("teardown", at(71.4), at(72.4), 1.0, "ok"))
    steps = tuple(replace(s, started_at=s.started_at + shift, ended_at=s.ended_at + shift)  # type: ignore[operator]
                  for s in base.steps)
    return replace(base, timestamps=moved, timeline=timeline, phases=phases, steps=steps, **changes)  # type: ignore[arg-type]


def svg_root(text: str) -> ET.Element:
    return ET.fromstring(text)


def classes(root: ET.Element, tag: str) -> list[str]:
    return [e.get("class") or "" for e in root.iter(f"{SVG}{tag}")]


def test_cold_run_zooms_on_the_action_and_keeps_the_whole_run_below() -> None:
    result = cold_result()
    win = timeline_model.zoom_window(result)
    # Baseline tail (4 s before the deploy at 66.1 s) to just past completion at 71.3 s.
    assert win.zoomed and win.start == pytest.approx(62.1) and 71.3 < win.end < 73
    timeline = svg_root(plot.timeline_svg(result))
    ticks = [float(t.text.replace(",", "")) for t in timeline.iter(f"{SVG}text")
             if t.text and re.fullmatch(r"[\d,.]+", t.text) and float(t.get("y", 0)) > 300]
    assert ticks and min(ticks) >= 62 and max(ticks) <= 73  # the x axis is the window, not 0..72 s
    page = html.render(result)
    doc = parse_html(page)
    assert [a.get("class") for t, a in doc.tags if t == "svg"] == ["timeline", "overview", "target-bar"]
    overview = svg_root(plot.overview_svg(result))
    box = [e for e in overview.iter(f"{SVG}rect") if e.get("class") == "zoom-box"]
    assert len(box) == 1 and float(box[0].get("width", 0)) > 0


def test_warm_run_is_not_zoomed() -> None:
    result = make_result()  # deployed at 6.1 s of a 12.4 s run: the action is most of it
    assert not timeline_model.zoom_window(result).zoomed
    assert "overview" not in html.render(result)


def test_phases_are_shaded_in_the_window_only() -> None:
    root = svg_root(plot.timeline_svg(cold_result()))
    shaded = {e.get("data-phase") for e in root.iter(f"{SVG}rect") if e.get("class") == "phase"}
    assert {"baseline", "deploy", "detect", "rollback"} <= shaded
    assert "prepare" not in shaded  # it ends at 61.9 s, before the window opens at 62.1 s


def latency_result() -> object:
    points = tuple(TimelinePoint(float(s), {"v2": 45, "v3": 5} if 6 <= s < 9 else {"v2": 50}, {}, 10 if 6 <= s < 9 else 0,
                                 {"v2": 2.0, "v3": 305.0} if 6 <= s < 9 else {"v2": 2.0}, {}) for s in range(1, 12))
    ev = Evidence("candidate-p90-latency-seconds", "histogram_quantile(...)", "fail", 0.31, 0.2, 20, 15)
    return make_result(timeline=points, evidence=(ev,))


def test_latency_drill_plots_latency_p90_per_version() -> None:
    result = latency_result()
    assert timeline_model.signals(result) == ["latency"]
    root = svg_root(plot.timeline_svg(result))
    assert "panel-latency" in classes(root, "rect") and "panel-wrong" not in classes(root, "rect")
    lines = {e.get("data-version"): e for e in root.iter(f"{SVG}polyline") if e.get("class") == "series-latency"}
    assert set(lines) == {"v2", "v3"}
    # The candidate's 305 ms sits high in its panel, the stable 2 ms near the bottom.
    def y(e: ET.Element) -> list[float]:
        return [float(p.split(",")[1]) for p in e.get("points", "").split()]
    assert max(y(lines["v3"])) < min(y(lines["v2"])) - 50


def test_accuracy_drill_plots_the_wrong_answer_rate() -> None:
    points = tuple(TimelinePoint(float(s), {"v2": 40, "v3": 10}, {"v3": 2}, 20, {}, {"v2": 1, "v3": 4})
                   for s in range(1, 6))
    ev = Evidence("client-incorrect-vs-baseline", "client:incorrect", "fail", 0.5, 0.001, 40, 20, kind="compare")
    result = make_result(timeline=points, evidence=(ev,))
    assert timeline_model.signals(result) == ["wrong"]
    panels = {p.cls: p for p in report_panels.panels(result)}
    wrong = {line.key: line for line in panels["panel-wrong"].lines}
    # Of the candidate's 8 answered requests a second, 4 were wrong: 50 %; the stable 1 of 40: 2.5 %.
    assert wrong["v3"].points[0][1] == pytest.approx(50.0) and wrong["v2"].points[0][1] == pytest.approx(2.5)


def test_error_drill_has_no_signal_panel() -> None:
    assert timeline_model.signals(make_result()) == []


def test_evidence_trace_is_drawn_on_a_log_axis_with_its_threshold() -> None:
    trace = tuple(EvidencePoint(0.5 * i, "e-value", 3.0 ** i, 1000.0) for i in range(1, 9))
    result = make_result(evidence_trace=trace)
    panel = next(p for p in report_panels.panels(result) if p.cls == "panel-evidence")
    assert panel.log == (0, 4)  # 3 .. 6561 and the threshold 1000: decades 1 .. 10^4
    assert panel.refs[0][0] == 1000.0
    root = svg_root(plot.timeline_svg(result))
    assert [e.get("data-check") for e in root.iter(f"{SVG}polyline") if e.get("class") == "series-evidence"] == ["e-value"]
    threshold = [e for e in root.iter(f"{SVG}line") if e.get("class") == "threshold"]
    assert len(threshold) == 1
    # Deploy at 6.1 s: the trace's t_s (since deploy) is placed after it.
    assert report_panels.Line  # the class exists for third-party panels
    ys = [float(p.split(",")[1]) for e in root.iter(f"{SVG}polyline") if e.get("class") == "series-evidence"
          for p in e.get("points", "").split()]
    assert ys == sorted(ys, reverse=True)  # growing statistic: rising line (SVG y grows downwards)


def test_target_bar_within_target_is_green_with_the_step_breakdown() -> None:
    result = make_result()
    root = svg_root(charts.target_bar_svg(result) or "")
    took = next(e for e in root.iter(f"{SVG}rect") if e.get("class") == "took")
    scale = next(e for e in root.iter(f"{SVG}rect") if e.get("class") == "target-scale")
    assert took.get("fill") == charts.GOOD
    # 1.6 s of 900 s: a sliver (drawn at least 2.5 px wide), on the target's scale.
    assert float(took.get("width", 0)) == pytest.approx(2.5) and float(scale.get("width", 0)) > 700
    segments = [e.get("data-step") for e in root.iter(f"{SVG}rect") if e.get("class") == "segment"]
    assert segments == ["wait", "drain-candidate", "restore-previous-alias", "verify-stable-serving", "verify-error-rate"]


def test_target_bar_over_target_is_red_and_says_by_how_much() -> None:
    result = make_result(target_s=1.0)
    svg = charts.target_bar_svg(result) or ""
    took = next(e for e in svg_root(svg).iter(f"{SVG}rect") if e.get("class") == "took")
    assert took.get("fill") == charts.BAD
    assert "over the 1.00 s target by 0.60 s" in svg


def test_failed_rollback_bar_names_the_failed_step() -> None:
    ts = replace(make_result().timestamps, completed_at=None)
    steps = (step("drain-candidate", "router.drain", 9.7, 0.01),
             step("restore-previous-alias", "registry.restore_previous", 9.71, 0.5, status=StepStatus.FAILED,
                  error="artifact corrupt"))
    result = make_result(status=RunStatus.FAILED, timestamps=ts, steps=steps, rolled_back=False, expect="fail",
                         drill="broken-rollback-path")
    svg = charts.target_bar_svg(result) or ""
    assert "not completed: step restore-previous-alias failed" in svg
    assert outcome(result).label == "failed as expected" and outcome(result).css == "good"


def test_promote_drill_has_no_target_bar_and_reads_green() -> None:
    result = make_result(decision="promote", rolled_back=False, expect="promote", steps=(),
                         timestamps=replace(make_result().timestamps, rollback_started_at=None, completed_at=None))
    assert charts.target_bar_svg(result) is None
    assert outcome(result).label == "promoted as expected" and rolled_back_css(result) == "good"
    page = html.render(result)
    assert 'class="badge good outcome-badge">PROMOTED AS EXPECTED<' in page
    assert '<span class="good">no</span>' in page  # "rolled back: no" is the right answer here


@pytest.mark.parametrize("expect,drill,status,rolled,label,css", [
    ("rollback", "canary-fail", RunStatus.PASSED, True, "rolled back as expected", "good"),
    ("rollback", "canary-fail", RunStatus.FAILED, False, "rollback failed", "bad"),
    ("promote", "good-canary", RunStatus.FAILED, True, "false rollback", "bad"),
    ("fail", "broken-rollback-path", RunStatus.PASSED, True, "passed, but the drill expected a failure", "bad"),
    ("rollback", "broken-rollback-path", RunStatus.FAILED, False, "rollback failed", "bad"),  # a name never decides
    ("rollback", "good-canary", RunStatus.PASSED, False, "promoted as expected", "good"),  # decision: promote
    ("rollback", "canary-fail", RunStatus.ERROR, False, "error", "bad"),
])
def test_outcome_against_expectation(expect: str, drill: str, status: RunStatus, rolled: bool, label: str,
                                     css: str) -> None:
    decision = "promote" if drill == "good-canary" and not rolled else "rollback"
    o = outcome(make_result(expect=expect, drill=drill, status=status, rolled_back=rolled, decision=decision))
    assert (o.label, o.css) == (label, css)


# ---- summary charts ------------------------------------------------------------------------------

def test_rate_bars_take_the_colour_of_their_band() -> None:
    # Edges as the store decides bands: 10 % is still acceptable.
    groups = [("2026-W40", 4.0, 1, 25), ("2026-W41", 10.0, 1, 10), ("2026-W42", 15.0, 3, 20),
              ("2026-W43", 25.0, 1, 4), ("2026-W44", None, 0, 0)]
    root = svg_root(charts.rate_bands_svg(groups))
    bars = {e.get("data-period"): e for e in root.iter(f"{SVG}rect") if e.get("class") == "rate"}
    assert [bars[k].get("fill") for k in ("2026-W40", "2026-W41", "2026-W42", "2026-W43")] == [
        charts.GOOD, "#6a8f1e", charts.WARN, charts.BAD]
    assert "2026-W44" not in bars  # no deployments: no bar, a note
    heights = [float(bars[k].get("height", 0)) for k in ("2026-W40", "2026-W42", "2026-W43")]
    assert heights == sorted(heights) and heights[2] / heights[0] == pytest.approx(25 / 4, rel=0.01)
    bands = [e.get("data-band") for e in root.iter(f"{SVG}rect") if e.get("class") == "band"]
    assert bands == ["excellent", "acceptable", "concerning", "high risk"]


def test_completion_points_within_and_over_the_target() -> None:
    pts = [charts.CompletionPoint(T0, 120.0, "production", "a"), charts.CompletionPoint(at(3600), 1800.0, "production", "b"),
           charts.CompletionPoint(at(7200), 1.6, "drill", "run-1", "../r/run-1/report.html")]
    svg = charts.completion_svg(pts, 900.0)
    root = svg_root(svg)
    circles = [e for e in root.iter(f"{SVG}circle") if "point" in (e.get("class") or "")]
    assert [c.get("fill") for c in circles] == [charts.GOOD, charts.BAD]
    links = [e.get("href") for e in root.iter(f"{SVG}a")]
    assert links == ["../r/run-1/report.html"]
    assert "2 of 3 within" in svg
    # Log axis: 1800 s sits above 120 s, which sits above 1.6 s.
    cy = [float(c.get("cy", 0)) for c in circles]
    assert cy[1] < cy[0]


def test_share_and_causes() -> None:
    root = svg_root(charts.share_svg([("production", 3, 1), ("drill runs", 0, 0)]))
    widths = {e.get("class"): float(e.get("width", 0)) for e in root.iter(f"{SVG}rect") if "share" in (e.get("class") or "")}
    assert widths["share automated"] == pytest.approx(3 * widths["share human"])
    svg = charts.causes_svg([("performance", 3, 1), ("safety", 1, 0)])
    bars = [(e.get("class"), e.get("data-cause")) for e in svg_root(svg).iter(f"{SVG}rect")
            if (e.get("class") or "").startswith("cause")]
    assert bars == [("cause production", "performance"), ("cause drill", "performance"), ("cause production", "safety")]
    assert "3 + 1 drill · repeated" in svg and math.isfinite(1.0)
