"""The runbook freshness table (`drill status`) as a section of the summary report (summary.html, summary.md)."""

from __future__ import annotations

from html import escape
from pathlib import Path

from harness.programme.freshness import StatusReport
from harness.programme.render import HEADERS, cells
from harness.report.escape import md


def html_section(report: StatusReport) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in HEADERS)
    rows = "".join(
        "<tr>" + "".join(f"<td>{escape(c)}</td>" for c in cells(item)[:-1])
        + f'<td class="{"bad" if item.stale else "good"}">{escape(cells(item)[-1])}</td></tr>'
        for item in report.runbooks)
    return f"<h2>Runbook freshness</h2><table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def markdown_section(report: StatusReport) -> str:
    lines = ["", "## Runbook freshness", "", "| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    lines += ["| " + " | ".join(md(c) for c in cells(item)) + " |" for item in report.runbooks]
    return "\n".join(lines) + "\n"


def append(paths: list[Path], report: StatusReport) -> None:
    """Add the section to each summary file written (HTML before </body>, Markdown at the end)."""
    for path in paths:
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".html":
            section = html_section(report)
            text = text.replace("</body>", section + "</body>", 1) if "</body>" in text else text + section
        else:
            text = text.rstrip("\n") + "\n" + markdown_section(report)
        path.write_text(text, encoding="utf-8")
