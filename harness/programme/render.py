"""Rich tables for `drill status` and `drill gate`, and readiness as OpenMetrics (kept apart from the CLI so the
summary report can reuse the rows)."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text

from harness.programme.freshness import Freshness, StatusReport
from harness.programme.readiness import Readiness


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


def readiness_cells(item: Readiness) -> list[str]:
    """model, score, each part as credit and detail, and what blocks the gate: plain text."""
    parts = "; ".join(f"{p.name} {'n/a' if p.credit is None else f'{100 * p.credit:.0f} %'} ({p.detail})"
                      for p in item.parts)
    return [item.model, f"{item.score:g}", parts, "; ".join(item.blockers) or "—"]


READINESS_HEADERS = ("model", "readiness", "parts (credit, evidence)", "blocks the gate")


def readiness_table(items: list[Readiness]) -> Table:
    table = Table(*READINESS_HEADERS, title="Rollback readiness (drill gate --model M)")
    for item in items:
        row = readiness_cells(item)
        table.add_row(Text(row[0]), Text(row[1], style="green" if item.passes() else "red"), row[2],
                      Text(row[3], style="red" if item.blockers else ""))
    return table


def readiness_openmetrics(items: list[Readiness]) -> str:
    """`drill_readiness_score` (0-100) and `drill_readiness_part_credit` (0-1, one per part) per model."""
    def label(value: str) -> str:
        return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')

    lines = ["# HELP drill_readiness_score Rollback readiness of the model, 0-100 (docs/programme.md).",
             "# TYPE drill_readiness_score gauge"]
    lines += [f'drill_readiness_score{{model="{label(i.model)}"}} {i.score:g}' for i in items]
    lines += ["# HELP drill_readiness_part_credit One part of the readiness score, 0-1.",
              "# TYPE drill_readiness_part_credit gauge"]
    lines += [f'drill_readiness_part_credit{{model="{label(i.model)}",part="{p.name}"}} {round(p.credit, 4):g}'
              for i in items for p in i.parts if p.credit is not None]
    lines += ["# HELP drill_readiness_blocked 1 when the gate refuses the model whatever its score.",
              "# TYPE drill_readiness_blocked gauge"]
    lines += [f'drill_readiness_blocked{{model="{label(i.model)}"}} {int(bool(i.blockers))}' for i in items]
    return "\n".join([*lines, "# EOF"]) + "\n"
