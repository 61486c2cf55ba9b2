"""Human output of `drill metrics`: rich tables, the band coloured, the standard's reading.

Kept apart from the CLI so the pytest plugin or a report writer can reuse it.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Group
from rich.table import Table
from rich.text import Text

from harness.store.definitions import ALL_ROLLBACKS, IN_WINDOW, SIX_MONTHS, label
from harness.store.metrics import INTERPRETATION, Metrics
from harness.store.postmortems import PostmortemSignals
from harness.store.trends import MetricsGroup

BAND_STYLES = {
    "excellent": "bold green",
    "acceptable": "bold yellow",
    "concerning": "bold dark_orange",
    "high-risk": "bold red",
}


def _num(value: float | None, suffix: str = "", places: int = 1) -> str:
    return "n/a" if value is None else f"{value:.{places}f}{suffix}"


def band_text(band: str | None) -> Text:
    return Text(band or "n/a", style=BAND_STYLES.get(band or "", "dim"))


def _scope(m: Metrics) -> str:
    q = m.query
    parts = [f"environment {q.environment}"]
    if q.model:
        parts.append(f"model {q.model}")
    since = q.since.date().isoformat() if q.since else "beginning"
    until = q.until.date().isoformat() if q.until else "now"
    parts.append(f"period {since} .. {until} (in-window: deployments of the period, rollbacks within "
                 f"{q.window_days:g} days; all: rollbacks decided in the period)")
    return ", ".join(parts)


def _cell(value: object, suffix: str, places: int) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return _num(value, suffix, places) if isinstance(value, float) else str(value)


def metrics_table(m: Metrics, postmortems: PostmortemSignals | None = None) -> Group:
    """The full figure sheet for one query: one column per population, the signals of success below it."""
    target = m.query.target_minutes
    table = Table(title="Rollback metrics", caption=_scope(m), show_header=True)
    table.add_column("Metric")
    table.add_column(IN_WINDOW.short, justify="right")
    table.add_column(ALL_ROLLBACKS.short, justify="right")
    a = m.all_rollbacks
    rate = Text(_num(m.rollback_rate_pct, " %"))
    rate.append("  ")
    rate.append_text(band_text(m.band))
    table.add_row(label("deployments"), str(m.deployments), "—")
    table.add_row(label("rollbacks"), str(m.rollbacks), "n/a" if a is None else str(a.rollbacks))
    table.add_row(label("rollback_rate_pct"), rate, "—")
    for key, suffix, places in (("mean_time_to_rollback_hours", " h", 2),
                                ("mean_decision_to_completion_minutes", " min", 1),
                                ("within_target_pct", " %", 1), ("automated_rollback_rate_pct", " %", 1)):
        name = label(key) + (f" ({target:g} min)" if key == "within_target_pct" else "")
        table.add_row(name, _cell(getattr(m, key), suffix, places),
                      "n/a" if a is None else _cell(getattr(a, key), suffix, places))
    table.add_row(label("repeat_rollback_rate_pct"), _num(m.repeat_rollback_rate_pct, " %"), "—")
    table.add_row(label("planned_rollbacks"), str(m.planned_rollbacks),
                  "n/a" if a is None else str(a.planned_rollbacks))
    table.add_row(label("rca_coverage_pct"), _num(m.rca_coverage_pct, " %"),
                  "n/a" if a is None else _num(a.rca_coverage_pct, " %"))
    causes = Table(title=label("root_causes"), show_header=True)
    causes.add_column("Class")
    causes.add_column(IN_WINDOW.short, justify="right")
    causes.add_column(ALL_ROLLBACKS.short, justify="right")
    for cause, count in m.root_causes.items():
        whole = "n/a" if a is None else str(a.root_causes.get(cause, 0))
        causes.add_row(cause, Text(str(count), style="bold" if count >= 2 else ""), whole)
    return Group(table, causes, Text(INTERPRETATION, style="italic"), signals(m, postmortems))


def signals(m: Metrics, postmortems: PostmortemSignals | None = None) -> Text:
    """The standard's signals of success, each with a tick or a cross.

    With ``postmortems`` (what `drill metrics` passes): RCA coverage over the last six months and the
    rollbacks whose cause key an earlier post-mortem had named, listed. Without: the period's RCA share and
    root-cause classes behind two or more rollbacks (a class repeating is a hint, not a repeated cause)."""
    target = m.query.target_minutes
    out = Text("Signals of success\n", style="bold")

    def line(ok: bool | None, message: str) -> None:
        mark, style = {True: ("✔", "green"), False: ("✘", "red"), None: ("–", "dim")}[ok]
        out.append(f"  {mark} ", style=style)
        out.append(message + "\n")

    if postmortems is None:
        coverage = m.rca_coverage_pct
        line(None if coverage is None else coverage == 100,
             f"published root-cause analysis for {_num(coverage, ' %')} of the {IN_WINDOW.short}")
        repeated = m.repeated_root_causes
        line(None if m.rollbacks == 0 else not repeated,
             "root causes repeating (>= 2 rollbacks): " + (", ".join(repeated) or "none"))
    else:
        pm = postmortems
        coverage = pm.rca_coverage_six_months_pct
        line(None if coverage is None else coverage == 100,
             f"{label('rca_coverage_pct', SIX_MONTHS)}: {_num(coverage, ' %')} of {pm.rollbacks_six_months} "
             f"({pm.coverage_since.date()} .. {pm.coverage_until.date()})")
        line(not pm.repeated, f"{label('repeated_cause_keys', ALL_ROLLBACKS)}: "
             + (str(len(pm.repeated)) if pm.repeated else "none"))
        for item in pm.repeated:
            r, e = item.rollback.rollback, item.earlier.rollback
            out.append(f"      {item.cause_key}: {item.rollback.label} decided {r.decided_at:%Y-%m-%d}, "
                       f"first named by {item.earlier.label} decided {e.decided_at:%Y-%m-%d}"
                       + (f" ({e.rca_url})" if e.rca_url else "") + "\n")
    within = m.within_target_pct if m.all_rollbacks is None else m.all_rollbacks.within_target_pct
    line(None if within is None else within == 100,
         f"decision to completion within {target:g} min for {_num(within, ' %')} of "
         + (IN_WINDOW.short if m.all_rollbacks is None else ALL_ROLLBACKS.short))
    return out


def groups_table(groups: Sequence[MetricsGroup], by: str) -> Group:
    """One row per quarter or model: the trend."""
    table = Table(title=f"Rollback metrics by {by}", caption=f"every figure over {IN_WINDOW.short}")
    for name, justify in ((by.capitalize(), "left"), ("Deploys", "right"), ("Rollbacks", "right"),
                          ("Rate", "right"), ("Band", "left"), ("MTTR h", "right"),
                          ("Decision→done min", "right"), ("In target", "right"),
                          ("Automated", "right"), ("Repeat", "right"), ("Planned", "right"),
                          ("RCA", "right")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for group in groups:
        m = group.metrics
        table.add_row(
            group.key, str(m.deployments), str(m.rollbacks), _num(m.rollback_rate_pct, "%"),
            band_text(m.band), _num(m.mean_time_to_rollback_hours, "", 2),
            _num(m.mean_decision_to_completion_minutes), _num(m.within_target_pct, "%"),
            _num(m.automated_rollback_rate_pct, "%"), _num(m.repeat_rollback_rate_pct, "%"),
            str(m.planned_rollbacks), _num(m.rca_coverage_pct, "%"),
        )
    return Group(table, Text(INTERPRETATION, style="italic"))

