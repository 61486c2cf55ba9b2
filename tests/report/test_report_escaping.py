"""Reports escape what they print: Markdown markup and HTML, and characters XML 1.0 cannot carry."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import replace

from harness.engine.results import RunStatus, StepStatus
from harness.report import junit, markdown
from harness.report.escape import md, md_code, xml_text
from harness.report.runbook_md import render as render_runbook
from harness.spec.models import RunbookSpec
from tests.report.test_reports import make_result, step

NASTY = "exit 1: a|b `rm -rf` <script>alert(1)</script> *x* \x1b[31mred\x00\x07"


def _table_rows(text: str, header: str) -> list[list[str]]:
    lines = text.splitlines()
    start = lines.index(header)
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        # split on pipes that are not escaped
        cells, cell, escaped = [], "", False
        for ch in line.strip()[1:-1]:
            if ch == "|" and not escaped:
                cells.append(cell)
                cell = ""
            else:
                cell += ch
            escaped = ch == "\\" and not escaped
        rows.append([*cells, cell])
    return rows


def test_junit_stays_well_formed_with_control_characters() -> None:
    result = make_result(status=RunStatus.FAILED, reason=NASTY, drill="d\x01rill",
                         steps=(step("verify", "verify.http", 10, 1, verify=True, status=StepStatus.FAILED, error=NASTY),))
    root = ET.fromstring(junit.render(result))  # raises on a control character
    failures = [f.get("message") or "" for f in root.iter("failure")]
    assert any("<script>" in f for f in failures)  # the text survives, as text


def test_markdown_report_escapes_pipes_backticks_and_html() -> None:
    result = make_result(reason=NASTY, steps=(step("s|tep", "shell", 10, 1, status=StepStatus.FAILED, error=NASTY),))
    text = markdown.render(result)
    assert "<script>" not in text and "&lt;script&gt;" in text
    assert "\x1b" not in text and "\x00" not in text
    rows = _table_rows(text, "| step | action | status | duration | attempts | detail |")
    assert len(rows) == 1 and len(rows[0]) == 6  # no pipe split a cell


def test_runbook_markdown_escapes_instructions_and_params() -> None:
    spec = RunbookSpec.model_validate({"name": "rb", "description": "<img src=x onerror=alert(1)>", "steps": [
        {"name": "page", "action": "notify", "manual": True, "instructions": "see `a|b` <b>now</b>",
         "params": {"message": "x|y`z"}}]})
    text = render_runbook(spec)
    assert "<img" not in text and "<b>" not in text
    rows = _table_rows(text, "| # | step | what | timeout | retries | on failure |")
    assert len(rows) == 1 and len(rows[0]) == 6


def test_code_spans_hold_backticks() -> None:
    assert md_code("a`b") == "``a`b``"
    assert md_code("`x`") == "`` `x` ``"
    assert md("a|b") == "a\\|b" and md("<b>") == "&lt;b&gt;"
    assert xml_text("a\x00b\tc") == "a\ufffdb\tc"
    assert replace(make_result(), drill="x").drill == "x"
