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


def status_table(report: StatusReport) -> Group:
    parts: list[Table | Text] = [_table("Runbook freshness", "runbook", report.runbooks)]
    if report.models:
        parts.append(_table("Models drilled (from the store)", "model", report.models))
    stale = sum(item.stale for item in (*report.runbooks, *report.models))
    parts.append(Text(f"{stale} stale" if stale else "everything fresh", style="bold red" if stale else "bold green"))
    return Group(*parts)
