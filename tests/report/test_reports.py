"""Per-run report writers (HTML with its SVG timeline, JUnit, the JSON loader), without Docker."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest

from harness.engine.results import DrillResult, Evidence, PhaseResult, RunStatus, StepResult, StepStatus, TimelinePoint, Timestamps, TrafficSummary
from harness.report import WRITERS, html, junit, labels, plot, timeline_model, write_all
from harness.report.load import load_result, result_from_json

T0 = datetime(2026, 11, 2, 10, 0, 0, tzinfo=UTC)
JUNIT_CASES = ["as_expected", "detected", "rolled_back", "verified", "within_target", "no_failed_requests_during_rollback",
               "serving_stable_after"]


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def step(name: str, action: str, start: float, took: float, *, verify: bool = False,
         status: StepStatus = StepStatus.OK, detail: str = "ok", error: str | None = None) -> StepResult:
    return StepResult(name, action, status, at(start), at(start + took), took, 1, detail, error, False, verify)


def make_result(**changes: object) -> DrillResult:
    """A passed canary-fail run shaped like a real one: deployed at 6 s, decided at 9.7 s, done at 11.3 s."""
    timeline = tuple(
        TimelinePoint(float(s), {"v2": 45, "v3": 5} if 6 <= s < 9 else {"v2": 50},
                      {"v3": 2} if 6 <= s < 9 else {}, 10 if 6 <= s < 9 else 0)
        for s in range(1, 12))
    result = DrillResult(
        run_id="20261102T100000Z-canary-fail-abc123", drill="canary-fail", profile="ci", status=RunStatus.PASSED,
        reason="rolled back to v2 and verified in 1.60s", trigger="automated", decision="rollback",
        root_cause="performance", model="fraud", stable_version="v2", candidate_version="v3", rolled_back=True,
        timestamps=Timestamps(T0, at(6.1), at(8.7), at(9.7), at(9.7005), at(11.3), at(12.4)),
        target_s=900.0,
        steps=(step("drain-candidate", "router.drain", 9.7, 0.01),
               step("restore-previous-alias", "registry.restore_previous", 9.71, 0.24),
               step("verify-stable-serving", "verify.http", 10.0, 0.06, verify=True, detail="25/25 answered 200 by v2"),
               step("verify-error-rate", "verify.error_rate", 10.1, 0.8, verify=True, detail="error rate 0.0%")),
        phases=(PhaseResult("prepare", T0, at(1.9), 1.9, "ok"), PhaseResult("rollback", at(9.7), at(11.3), 1.6, "ok")),
        traffic=TrafficSummary(468, 6, 0, 6, 0.0, 0.0, {"v2": 450, "v3": 18}),
        serving_version_after="v2",
        evidence=(Evidence("candidate-5xx-ratio", 'sum(rate(x{code="5xx"}[10s])) > 0 & <b>', "fail", 0.17, 0.05,
                           15.3, 15, 0.0, 0.17, None, at(9.7)),),
        images_source="cached", report_dir="/tmp/reports/run", timeline=timeline,
    )
    return replace(result, **changes)  # type: ignore[arg-type]


class _Checker(HTMLParser):
    """Checks that every non-void element is closed in order, and collects tags and text."""

    VOID = {"meta", "br", "img", "input", "link", "hr", "col", "area", "base", "wbr", "source", "track"}
    SVG_EMPTY = {"line", "rect", "path", "polyline", "circle"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse_html(text: str) -> _Checker:
    checker = _Checker()
    checker.feed(text)
    checker.close()
    assert checker.errors == []
    assert checker.stack == []
    return checker


def test_html_is_well_formed_self_contained_with_svg_timeline_and_marks() -> None:
    page = html.render(make_result())
    assert page.startswith("<!DOCTYPE html>")
    doc = parse_html(page)
    svgs = [a.get("class") for t, a in doc.tags if t == "svg"]
    assert svgs == ["timeline", "target-bar"]  # a 12.4 s warm run: no zoom, so no whole-run overview
    assert not [a for t, a in doc.tags if t in ("script", "link", "img")]  # nothing fetched, nothing run
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in page
    marks = {a.get("data-mark") for t, a in doc.tags if t == "g" and a.get("class") == "mark"}
    assert marks == {"deployed", "first breach", "decision", "rollback start", "completed"}
    series = {(a.get("class"), a.get("data-version")) for t, a in doc.tags if t == "polyline"}
    assert {("series-requests", "v2"), ("series-requests", "v3"), ("series-errors", "v3")} <= series
    assert any(a.get("class") == "canary-weight" for t, a in doc.tags if t == "path")
    tables = {a.get("class") for t, a in doc.tags if t == "table"}
    assert {"outcome", "timings", "evidence", "steps", "traffic"} <= tables
    text = " ".join(doc.text)
    # The 15-minute target is a bar of its own: 1.6 s of 900 s, and the rest to spare.
    assert "1.60 s — 0.18 % of the 15 min target, 898.4 s to spare" in text
    assert timeline_model.target_note(make_result()) is not None and "off the chart" not in text


def test_svg_is_valid_xml_on_its_own() -> None:
    root = ET.fromstring(plot.timeline_svg(make_result()))
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert root.find("{http://www.w3.org/2000/svg}title") is not None


def test_target_mark_drawn_when_it_falls_on_the_chart() -> None:
    result = make_result(target_s=2.0)  # decision 9.7 + 2 = 11.7 s, inside the 12.4 s run
    doc = parse_html(html.render(result))
    marks = {a.get("data-mark") for t, a in doc.tags if t == "g" and a.get("class") == "mark"}
    assert "target (decision + 2 s)" in marks
    assert timeline_model.target_note(result) is None


def test_target_just_past_the_end_stretches_the_axis() -> None:
    result = make_result(target_s=5.0)  # 14.7 s: within 25 % past the 12.4 s end
    assert timeline_model.axis_end(result) >= 14.7
    assert timeline_model.target_note(result) is None


def test_html_escapes_all_text() -> None:
    evil = "<script>alert(1)</script>"
    result = make_result(reason=evil, drill="x<y>&z", steps=(step("s<1>", "verify.http", 10, 0.1, verify=True,
                                                                     detail=evil),))
    page = html.render(result)
    assert "<script>" not in page
    assert "&lt;script&gt;" in page
    parse_html(page)
    ET.fromstring(plot.timeline_svg(result))


def test_html_without_traffic_or_decision_still_renders() -> None:
    ts = Timestamps(T0, at(6.0), None, None, None, None, at(70.0))
    result = make_result(status=RunStatus.FAILED, decision="missed", trigger=None, rolled_back=False, timestamps=ts,
                         steps=(), evidence=(), traffic=None, timeline=(), serving_version_after="v2,v3")
    doc = parse_html(html.render(result))
    assert "no traffic recorded" in " ".join(doc.text)
    assert timeline_model.target_note(result) is None  # no decision: no target to place


def test_label_rows_never_let_a_line_cross_a_label() -> None:
    xs = [100.0, 400.0, 460.0, 460.1, 520.0]
    boxes = [(x + 3, x + 3 + 120) for x in xs]
    rows = labels.label_rows(xs, boxes)
    for i, (a, b) in enumerate(boxes):
        for j, x in enumerate(xs):
            if i != j and a <= x <= b:
                assert rows[j] < rows[i], (i, j, rows)
        for j, (c, d) in enumerate(boxes):
            if i != j and rows[i] == rows[j]:
                assert b <= c or d <= a


def test_a_label_flips_sides_rather_than_be_crossed() -> None:
    # A promoted control (a real run): decision at 812.5 px, completion at 855.9 px of a 960 px chart. The
    # completion's label must sit left of its line, over the decision's line: one crossing, unless the
    # decision's label goes left too and below the completion's.
    xs, texts = [428.9, 812.5, 855.9], ["deployed 9.9 s", "decision 20.3 s", "completed 21.5 s"]
    natural = [labels.label_box(x, t, 960) for x, t in zip(xs, texts)]
    spans = [(a, b) for a, b, _ in natural]
    assert labels.crossings(xs, spans, labels.label_rows(xs, spans)) == 1
    boxes, rows = labels.place_labels(xs, texts, 960)
    assert labels.crossings(xs, [(a, b) for a, b, _ in boxes], rows) == 0
    assert [b[2] for b in boxes] == ["start", "end", "end"] and rows[1] < rows[2]


def junit_cases(text: str) -> dict[str, ET.Element]:
    root = ET.fromstring(text)
    suite = root.find("testsuite")
    assert suite is not None
    assert suite.get("name") == "drill.canary-fail"
    return {case.get("name") or "": case for case in suite.findall("testcase")}


def test_junit_passed_run_has_every_case_passing() -> None:
    text = junit.render(make_result())
    cases = junit_cases(text)
    assert list(cases) == JUNIT_CASES
    assert all(c.find("failure") is None for c in cases.values())
    suite = ET.fromstring(text).find("testsuite")
    assert suite is not None and suite.get("tests") == "7" and suite.get("failures") == "0"


def test_junit_failures_carry_messages() -> None:
    result = make_result(
        status=RunStatus.FAILED, reason="decision to completion 1000.0s missed the 900s target",
        timestamps=Timestamps(T0, at(6), at(8), at(9), at(9), at(1009), at(1010)),
        traffic=TrafficSummary(500, 9, 3, 6, 0.0, 0.0, {"v2": 480, "v3": 20}),
        steps=(step("verify-error-rate", "verify.error_rate", 10, 1, verify=True, status=StepStatus.FAILED,
                    error="error rate 12% over 40 requests"),),
        serving_version_after="v3")
    cases = junit_cases(junit.render(result))
    failed = {name: c.find("failure") for name, c in cases.items() if c.find("failure") is not None}
    assert set(failed) == {"as_expected", "verified", "within_target", "no_failed_requests_during_rollback",
                           "serving_stable_after"}
    assert "missed the 900 s target" in (failed["within_target"].get("message") or "")
    assert "3 request(s) failed" in (failed["no_failed_requests_during_rollback"].get("message") or "")
    assert "error rate 12%" in (failed["verified"].get("message") or "")
    assert "serving v3" in (failed["serving_stable_after"].get("message") or "")
    root = ET.fromstring(junit.render(result))
    assert root.find("testsuite").get("failures") == "5"  # type: ignore[union-attr]


def test_junit_missed_detection() -> None:
    result = make_result(status=RunStatus.FAILED, decision="missed", trigger=None, rolled_back=False, steps=(),
                         reason="bad version not detected within 60s",
                         timestamps=Timestamps(T0, at(6), None, at(66), None, None, at(70)))
    cases = junit_cases(junit.render(result))
    assert cases["detected"].find("failure") is not None
    assert "not detected" in (cases["detected"].find("failure").get("message") or "")  # type: ignore[union-attr]
    assert cases["rolled_back"].find("failure") is not None
    assert cases["within_target"].find("failure") is not None


def test_junit_promote_drill_uses_promoted_case() -> None:
    result = make_result(decision="promote", rolled_back=False, steps=(), serving_version_after="v3",
                         reason="good version v3 promoted; nothing rolled back")
    cases = junit_cases(junit.render(result))
    assert list(cases) == ["as_expected", "detected", "promoted", "verified", "within_target",
                           "no_failed_requests_during_rollback", "serving_stable_after"]
    assert all(c.find("failure") is None for c in cases.values())


def test_junit_broken_path_drill_that_failed_as_expected_has_no_failures() -> None:
    """A drill expecting failure that failed on its sabotaged artifact: every fact that did not hold passes."""
    result = make_result(status=RunStatus.FAILED, expect="fail", as_expected=True, sabotage_reached=True,
                         rolled_back=False, reason="runbook step restore-previous-alias failed: fraud/v2: artifact corrupt",
                         timestamps=Timestamps(T0, at(6), at(8), at(9), at(9), None, at(20)))
    root = ET.fromstring(junit.render(result))
    assert root.find("testsuite").get("failures") == "0"  # type: ignore[union-attr]
    cases = junit_cases(junit.render(result))
    assert "did not hold, as expected" in (cases["rolled_back"].findtext("system-out") or "")


def test_junit_silent_sabotage_fails_the_as_expected_case_only() -> None:
    """The rollback passed, but never read the sabotaged artifact: one failure, saying so."""
    result = make_result(expect="fail", as_expected=False, sabotage_reached=False,
                         reason="rolled back; not as expected: the sabotage (missing-previous of version v2's artifact) "
                                "was never reached: no step of runbook r reads it")
    cases = junit_cases(junit.render(result))
    failed = {name: c.find("failure") for name, c in cases.items() if c.find("failure") is not None}
    assert set(failed) == {"as_expected"}
    assert "never reached" in (failed["as_expected"].get("message") or "")


def test_write_all_writes_the_four_reports(tmp_path: Path) -> None:
    assert html.write in WRITERS and junit.write in WRITERS
    paths = write_all(make_result(), tmp_path / "run")
    assert sorted(p.name for p in paths) == ["junit.xml", "report.html", "report.json", "report.md"]
    ET.parse(tmp_path / "run" / "junit.xml")


def test_result_round_trips_through_report_json(tmp_path: Path) -> None:
    result = make_result()
    assert result_from_json(json.loads(json.dumps(result.to_json()))) == result
    write_all(result, tmp_path)
    assert load_result(tmp_path) == result


@pytest.mark.parametrize("span,expected", [(12.4, 2.5), (900.0, 200.0), (0.5, 0.1), (60.0, 10.0)])
def test_nice_step(span: float, expected: float) -> None:
    assert plot.nice_step(span, 6) == pytest.approx(expected)


def test_a_run_decided_from_an_answers_file_says_so_on_its_page_and_in_its_json(tmp_path: Path) -> None:
    from harness.outcomes import DecidedBy
    from harness.report import markdown

    result = make_result(trigger="manual", decided_by=DecidedBy.ANSWERS_FILE, decider="Ana",
                         timestamps=replace(make_result().timestamps, alerted_at=at(9.2)))
    assert "decided by answers file (for Ana), 0.5 s after the alert" in html.render(result)
    assert "decided by answers file (for Ana)" in markdown.render(result)
    data = json.loads(json.dumps(result.to_json()))
    assert (data["decided_by"], data["decider"], data["durations"]["alert_to_decision_s"]) == ("answers-file", "Ana", 0.5)
    assert result_from_json(data) == result  # the source and the alert survive report.json
    person = replace(result, decided_by=DecidedBy.PERSON, decider=None)
    assert "decided by person: unnamed" in html.render(person)


def test_a_promotion_shows_what_each_pass_rested_on() -> None:
    """A promoted control's evidence says how much worse the candidate could at most be (the bound at the check's
    alpha) against the margin, not only the failure statistic it never reached; values are rounded for a reader."""
    from harness.report import markdown

    passed = Evidence("client-errors-vs-baseline", "client:error", "pass", 0.019546868058640605, 400.0, 2251.0, 20,
                      baseline_value=0.02132385606397157, kind="sequential", e_value=0.8, margin=0.1,
                      excess_upper=0.0234)
    result = make_result(status=RunStatus.PASSED, decision="promote", rolled_back=False, evidence=(passed,))
    text = markdown.render(result)
    assert "| client-errors-vs-baseline | pass | 0.01955 | 0.02132 | 400 | 2251 (20) | ≤ +2.3 pts (margin 10) |" in text
    assert "≤ +2.3 pts (margin 10)" in html.render(result)
    threshold_only = make_result()  # a PromQL threshold check has no pass bound
    assert "| 0.17 | 0 | 0.05 | 15.3 (15) | — |" in markdown.render(threshold_only)
