"""The programme's sections of the summary report (summary.html, summary.md): runbook freshness (`drill
status`), each model's rollback readiness (`drill gate`), and the post-mortem signals (cause keys an earlier
post-mortem had named, RCA coverage over six months), appended after the production metrics."""

from __future__ import annotations

from html import escape
from pathlib import Path

from harness.programme.freshness import StatusReport
from harness.programme.readiness import Readiness
from harness.programme.render import HEADERS, READINESS_HEADERS, cells, readiness_cells
from harness.report.escape import md
from harness.store import PostmortemSignals
from harness.store.definitions import ALL_ROLLBACKS, SIX_MONTHS, label


def _signal_lines(pm: PostmortemSignals) -> list[str]:
    pct = pm.rca_coverage_six_months_pct
    lines = [f"{label('rca_coverage_pct', SIX_MONTHS)}: {'—' if pct is None else f'{pct:.1f} %'} of "
             f"{pm.rollbacks_six_months} ({pm.coverage_since.date()} .. {pm.coverage_until.date()})",
             f"{label('repeated_cause_keys', ALL_ROLLBACKS)}: {len(pm.repeated) or 'none'}"]
    for item in pm.repeated:
        lines.append(f"{item.cause_key}: {item.rollback.label} decided {item.rollback.rollback.decided_at:%Y-%m-%d}, "
                     f"first named by {item.earlier.label}")
    return lines


def html_section(report: StatusReport, scores: list[Readiness] | None = None,
                 postmortems: PostmortemSignals | None = None) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in HEADERS)
    rows = "".join(
        "<tr>" + "".join(f"<td>{escape(c)}</td>" for c in cells(item)[:-1])
        + f'<td class="{"bad" if item.stale else "good"}">{escape(cells(item)[-1])}</td></tr>'
        for item in report.runbooks)
    out = f"<h2>Runbook freshness</h2><table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"
    if scores:
        head = "".join(f"<th>{escape(h)}</th>" for h in READINESS_HEADERS)
        rows = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in readiness_cells(item)) + "</tr>"
                       for item in scores)
        out += f"<h2>Rollback readiness</h2><table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"
    if postmortems is not None:
        items = "".join(f"<li>{escape(line)}</li>" for line in _signal_lines(postmortems))
        out += f"<h2>Post-mortem signals</h2><ul>{items}</ul>"
    return out


def markdown_section(report: StatusReport, scores: list[Readiness] | None = None,
                     postmortems: PostmortemSignals | None = None) -> str:
    lines = ["", "## Runbook freshness", "", "| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    lines += ["| " + " | ".join(md(c) for c in cells(item)) + " |" for item in report.runbooks]
    if scores:
        lines += ["", "## Rollback readiness", "", "| " + " | ".join(READINESS_HEADERS) + " |",
                  "|" + "---|" * len(READINESS_HEADERS)]
        lines += ["| " + " | ".join(md(c) for c in readiness_cells(item)) + " |" for item in scores]
    if postmortems is not None:
        lines += ["", "## Post-mortem signals", ""] + [f"- {md(line)}" for line in _signal_lines(postmortems)]
    return "\n".join(lines) + "\n"


def append(paths: list[Path], report: StatusReport, scores: list[Readiness] | None = None,
           postmortems: PostmortemSignals | None = None) -> None:
    """Add the sections to each summary file written (HTML before </body>, Markdown at the end)."""
    for path in paths:
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".html":
            section = html_section(report, scores, postmortems)
            text = text.replace("</body>", section + "</body>", 1) if "</body>" in text else text + section
        else:
            text = text.rstrip("\n") + "\n" + markdown_section(report, scores, postmortems)
        path.write_text(text, encoding="utf-8")
