"""Rich tables for `drill status` (kept apart from the CLI so the summary report can reuse the rows)."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text

from harness.programme.freshness import Freshness, StatusReport


def cells(item: Freshness) -> list[str]:
    """name, last drilled, by, outcome, age, changed since, state: plain text, also for HTML and Markdown."""
    last = item.last
    outcome = "—" if last is None else last.status + (
        " (as expected)" if last.as_expected else " (not as expected)" if last.as_expected is False else "")
    changed = {True: "yes", False: "no", None: "—"}[item.changed_since]
    return [item.name, "never" if last is None else f"{last.started_at:%Y-%m-%d %H:%M}Z",
            "—" if last is None else f"{last.drill} ({last.run_id})", outcome,
            "—" if item.age_days is None else f"{item.age_days:g} d", changed,
            "stale: " + "; ".join(item.reasons) if item.stale else f"fresh (within {item.freshness_days} d)"]


HEADERS = ("runbook", "last drilled", "by", "outcome", "age", "changed since", "state")


def _table(title: str, first: str, items: tuple[Freshness, ...]) -> Table:
    table = Table(first, *HEADERS[1:], title=title)
    for item in items:
        row = cells(item)
        table.add_row(*row[:-1], Text(row[-1], style="red" if item.stale else "green"))
    return table


def summary_line(report: StatusReport) -> str:
    """Runbooks and models counted apart: "1 of 4 runbooks stale; 0 of 2 models stale"."""
    counts = report.counts()
    return "; ".join(f"{c['stale']} of {c['total']} {kind} stale" for kind, c in counts.items()
                     if c["total"] or kind == "runbooks")


def status_table(report: StatusReport) -> Group:
    parts: list[Table | Text] = [_table("Runbook freshness", "runbook", report.runbooks)]
    if report.models:
        parts.append(_table("Models drilled (from the store)", "model", report.models))
    parts.append(Text(summary_line(report), style="bold red" if report.stale else "bold green"))
    return Group(*parts)
