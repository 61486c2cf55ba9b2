"""The summary report across drill runs in the metrics store: summary.html and summary.md.

    with Store.open(url) as store:
        write_summary(store, since, until, Path("reports"))

Sections: charts (inline SVG, charts.py) — the production rollback rate per week or quarter against
the standard's bands, decision to completion of every rollback decided in the period (production
and drill runs, the drills linked to their reports) against the target, automated vs human share,
and rollbacks per root cause; every drill run in [since, until) (drill, outcome against what it
expected, decision to completion against its target, within target); a trend per drill per week or
per quarter; and the standard's rollback metrics for production events over the same period
(store.metrics), with a per-quarter trend. A run whose report directory still holds report.json adds
its detect time, failed requests and expectation.
"""

from __future__ import annotations

import json
import os
import statistics
from collections import defaultdict
from datetime import datetime, timedelta
from html import escape
from pathlib import Path
from typing import Literal

from harness.engine.results import DrillResult
from harness.report import charts
from harness.report.escape import md
from harness.report.html import CSS
from harness.report.load import load_result
from harness.report.outcome import decided_by_label, outcome
from harness.report.summary_model import RunRow, Summary, TrendRow
from harness.store import (
    INTERPRETATION,
    PRODUCTION,
    DrillRunRecord,
    GroupBy,
    Metrics,
    MetricsGroup,
    MetricsQuery,
    Rollback,
    Store,
)
from harness.store.codec import format_timestamp
from harness.store.definitions import ALL_ROLLBACKS, IN_WINDOW, label

Period = Literal["auto", "week", "quarter"]
WEEKLY_UP_TO = timedelta(weeks=13)  # "auto": weekly trend for a quarter or less, else quarterly
MAX_WEEKS = 60  # the weekly rate chart's widest span


def _load(record: DrillRunRecord) -> DrillResult | None:
    if not record.report_dir:
        return None
    path = Path(record.report_dir) / "report.json"
    try:
        return load_result(path) if path.is_file() else None
    except (OSError, ValueError, KeyError, TypeError, json.JSONDecodeError):
        return None  # a damaged report must not hide the run; the store row is the record


def period_key(moment: datetime, period: str) -> str:
    if period == "week":
        year, week, _ = moment.isocalendar()
        return f"{year}-W{week:02d}"
    return f"{moment.year}-Q{(moment.month - 1) // 3 + 1}"


def _choose_period(runs: list[DrillRunRecord], since: datetime | None, until: datetime | None,
                   period: Period) -> Literal["week", "quarter"]:
    if period != "auto":
        return period
    if not runs:
        return "week" if since and until and until - since <= WEEKLY_UP_TO else "quarter"
    start = since or runs[0].started_at
    end = until or runs[-1].started_at
    return "week" if end - start <= WEEKLY_UP_TO else "quarter"


def trend(runs: list[DrillRunRecord], period: str) -> list[TrendRow]:
    groups: dict[tuple[str, str], list[DrillRunRecord]] = defaultdict(list)
    for run in runs:
        groups[(run.drill, period_key(run.started_at, period))].append(run)
    rows = []
    for (drill, key), items in sorted(groups.items()):
        times = [r.decision_to_completion_s for r in items if r.decision_to_completion_s is not None]
        rows.append(TrendRow(
            drill, key, len(items), sum(r.status == "passed" for r in items),
            sum(r.within_target is True for r in items), len(times),
            round(statistics.median(times), 3) if times else None, max(times) if times else None))
    return rows


def build(store: Store, since: datetime | None, until: datetime | None, period: Period = "auto",
          target_minutes: float = 15.0) -> Summary:
    records = store.list_drill_runs(since, until)
    chosen = _choose_period(records, since, until, period)
    query = MetricsQuery(since=since, until=until, target_minutes=target_minutes)
    by_quarter = store.metrics_by(query, GroupBy.QUARTER)
    rollbacks = store.list_rollbacks(since, until, PRODUCTION)
    rate = by_quarter if chosen == "quarter" else _weekly(store, records, rollbacks, since, until, target_minutes)
    return Summary(since, until, chosen, [RunRow(r, _load(r)) for r in records], trend(records, chosen),
                   store.metrics(query), by_quarter, rate, rollbacks, target_minutes)


def _weekly(store: Store, records: list[DrillRunRecord], rollbacks: list[Rollback], since: datetime | None,
            until: datetime | None, target_minutes: float) -> list[MetricsGroup]:
    """The production metrics per ISO week (Monday 00:00 UTC) across the period."""
    moments = [r.started_at for r in records] + [r.decided_at for r in rollbacks]
    start = since or min(moments, default=None)
    end = until or (max(moments) + timedelta(seconds=1) if moments else None)
    if start is None or end is None:
        return []
    monday = (start - timedelta(days=start.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
    groups: list[MetricsGroup] = []
    while monday < end and len(groups) < MAX_WEEKS:
        nxt = monday + timedelta(weeks=1)
        q = MetricsQuery(since=max(monday, start), until=min(nxt, end), target_minutes=target_minutes)
        groups.append(MetricsGroup(period_key(monday, "week"), store.metrics(q)))
        monday = nxt
    return groups


# ---- rendering -------------------------------------------------------------------------------

def _t(value: datetime | None) -> str:
    return "—" if value is None else format_timestamp(value.replace(microsecond=0))


def _s(value: float | None) -> str:
    return "—" if value is None else f"{value:,.2f} s"


def _n(value: float | None, suffix: str = "", digits: int = 1) -> str:
    return "—" if value is None else f"{value:,.{digits}f}{suffix}"


def _yn(value: bool | None) -> str:
    return "—" if value is None else "yes" if value else "no"


def _period_text(s: Summary) -> str:
    return f"{_t(s.since) if s.since else 'the beginning'} to {_t(s.until) if s.until else 'now'}"


def metric_rows(m: Metrics) -> list[tuple[str, str, str]]:
    """(figure, in-window rollbacks, all unplanned rollbacks in the period): labels from store.definitions."""
    a, q = m.all_rollbacks, m.query

    def both(key: str, suffix: str, digits: int = 1) -> tuple[str, str, str]:
        whole = getattr(a, key) if a is not None else None
        name = label(key) + (f" ({q.target_minutes:g} min)" if key == "within_target_pct" else "")
        return (name, _n(getattr(m, key), suffix, digits), _n(whole, suffix, digits))

    return [
        (label("deployments"), f"{m.deployments:,}", "—"),
        (label("rollbacks"), f"{m.rollbacks:,}", "—" if a is None else f"{a.rollbacks:,}"),
        (label("rollback_rate_pct"), _n(m.rollback_rate_pct, " %", 2) + (f" — {m.band}" if m.band else ""), "—"),
        both("mean_time_to_rollback_hours", " h", 2), both("mean_decision_to_completion_minutes", " min", 2),
        both("within_target_pct", " %"), both("automated_rollback_rate_pct", " %"),
        (label("repeat_rollback_rate_pct"), _n(m.repeat_rollback_rate_pct, " %"), "—"),
        (label("planned_rollbacks"), f"{m.planned_rollbacks:,}", "—" if a is None else f"{a.planned_rollbacks:,}"),
        both("rca_coverage_pct", " %"),
    ]


METRIC_HEADERS = ["figure", IN_WINDOW.short, ALL_ROLLBACKS.short]


def _run_cells(row: RunRow) -> list[str]:
    r = row.record
    took = r.decision_to_completion_s
    vs = "—" if took is None else f"{took:,.2f} s of {r.target_s:g} s ({100 * took / r.target_s:.1f} %)"
    failed = row.failed_during_rollback
    status = r.status if row.result is None else f"{r.status}: {outcome(row.result).label}"
    return [r.run_id, r.drill, _t(r.started_at), status, decided_by_label(r.decided_by, r.decider, r.trigger),
            _s(row.detect_s), vs, _yn(r.within_target), "—" if failed is None else str(failed)]


def _good(cell: str) -> str:
    """The colour class of a table cell: outcomes as the drill expected are good, the rest bad."""
    if cell in ("passed", "yes") or cell.endswith("as expected"):
        return "yes"
    if cell in ("failed", "error", "no") or cell.startswith(("failed", "error", "passed, but", "inconclusive")):
        return "no"
    return ""


RUN_HEADERS = ["run", "drill", "started (UTC)", "outcome", "decided by", "detect", "decision → completion vs target",
               "within target", "failed during rollback"]
TREND_HEADERS = ["drill", "period", "runs", "passed", "within target", "median decision → completion",
                 "slowest"]
QUARTER_HEADERS = ["quarter", "deployments", "rollbacks", "rate", "band", "mean decision → completion",
                   "within target"]


def _trend_cells(t: TrendRow) -> list[str]:
    return [t.drill, t.period, str(t.runs), f"{t.passed} ({100 * t.passed / t.runs:.0f} %)",
            f"{t.within_target} of {t.measured}" if t.measured else "—", _s(t.median_s), _s(t.max_s)]


def _quarter_cells(g: MetricsGroup) -> list[str]:
    m = g.metrics
    return [g.key, f"{m.deployments:,}", f"{m.rollbacks:,}", _n(m.rollback_rate_pct, " %", 2), m.band or "—",
            _n(m.mean_decision_to_completion_minutes, " min", 2), _n(m.within_target_pct, " %")]


def _md_table(headers: list[str], rows: list[list[str]]) -> list[str]:
    def cell(text: str) -> str:
        return md(text)

    return (["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
            + ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows])


def render_markdown(s: Summary) -> str:
    passed = sum(r.record.status == "passed" for r in s.runs)
    lines = ["# Rollback drill summary", "", (f"Period: {_period_text(s)}. "
             f"{len(s.runs)} drill run(s), {passed} passed."), "", "## Drill runs", ""]
    lines += _md_table(RUN_HEADERS, [_run_cells(r) for r in s.runs]) if s.runs else ["No drill runs in the period."]
    lines += ["", f"## Production rollback rate per {s.period}", ""]
    lines += _md_table([s.period, "deployments", "rollbacks", "rate", "band"],
                       [[g.key, f"{g.metrics.deployments:,}", f"{g.metrics.rollbacks:,}",
                         _n(g.metrics.rollback_rate_pct, " %", 2), g.metrics.band or "—"] for g in s.rate_by_period]
                       ) if s.rate_by_period else ["—"]
    shares = "; ".join(charts.share_text(*row) for row in share_rows(s))
    causes = ", ".join(f"{c}: {p}" + (f" (+{d} drill)" if d else "") for c, p, d in cause_rows(s)) or "—"
    lines += ["", f"Who decided: {shares}.", "", f"Root causes ({ALL_ROLLBACKS.short}): {causes}.",
              "", "Charts: summary.html."]
    lines += ["", f"## Trend per drill, per {s.period}", ""]
    lines += _md_table(TREND_HEADERS, [_trend_cells(t) for t in s.trend]) if s.trend else ["—"]
    lines += ["", "## Production rollback metrics (the standard)", ""]
    lines += _md_table(METRIC_HEADERS, [list(row) for row in metric_rows(s.production)])
    lines += ["", f"Bands: {INTERPRETATION}."]
    if s.production_by_quarter:
        lines += ["", "### Production trend per quarter", ""]
        lines += _md_table(QUARTER_HEADERS, [_quarter_cells(g) for g in s.production_by_quarter])
    return "\n".join(lines) + "\n"


def _html_table(headers: list[str], rows: list[list[str]], cls: str, links: list[str | None] | None = None) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = []
    for i, row in enumerate(rows):
        cells = []
        for j, c in enumerate(row):
            text = escape(c)
            if j == 0 and links and links[i]:
                text = f'<a href="{escape(links[i] or "", quote=True)}">{text}</a>'
            klass = _good(c)
            cells.append(f'<td class="{klass}">{text}</td>' if klass else f"<td>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def _link(row: RunRow, output_dir: Path) -> str | None:
    if not row.record.report_dir:
        return None
    page = Path(row.record.report_dir) / "report.html"
    if not page.is_file():
        return None
    try:
        return os.path.relpath(page, output_dir.resolve())
    except ValueError:  # another drive (Windows)
        return page.resolve().as_uri()


def completion_points(s: Summary, output_dir: Path) -> list[charts.CompletionPoint]:
    points = [charts.CompletionPoint(r.decided_at, (r.completed_at - r.decided_at).total_seconds(), "production",
                                     f"{r.model} {r.from_version} → {r.to_version} ({r.trigger}, {r.root_cause})")
              for r in s.production_rollbacks]
    for row in s.runs:
        rec = row.record
        if rec.rolled_back and rec.decision_at is not None and rec.decision_to_completion_s is not None:
            points.append(charts.CompletionPoint(rec.decision_at, rec.decision_to_completion_s, "drill",
                                                 f"drill {rec.drill}, run {rec.run_id}", _link(row, output_dir)))
    return sorted(points, key=lambda p: p.at)


def _decided_rollback(row: RunRow) -> bool:
    """A rollback was decided (whether or not it completed); a promoted control is not one."""
    if row.result is not None:
        return row.result.decision == "rollback"
    return row.record.rolled_back or (row.record.decision_at is not None and row.record.to_version is not None)


def share_rows(s: Summary) -> list[tuple[str, int, int, int]]:  # automated, a person, an answers file (no person)
    prod_auto = sum(r.trigger == "automated" for r in s.production_rollbacks)
    drills = [row.record for row in s.runs if _decided_rollback(row) and row.record.trigger]
    drill_auto, scripted = (sum(r.trigger == "automated" for r in drills),
                            sum(r.trigger != "automated" and r.decided_by == "answers-file" for r in drills))
    return [("production", prod_auto, len(s.production_rollbacks) - prod_auto, 0),
            ("drill runs", drill_auto, len(drills) - drill_auto - scripted, scripted)]


def cause_rows(s: Summary) -> list[tuple[str, int, int]]:
    prod: dict[str, int] = defaultdict(int)
    drill: dict[str, int] = defaultdict(int)
    for r in s.production_rollbacks:
        prod[str(r.root_cause)] += 1
    for row in s.runs:
        if _decided_rollback(row) and row.record.root_cause:
            drill[row.record.root_cause] += 1
    causes = sorted(set(prod) | set(drill), key=lambda c: (-prod.get(c, 0), -drill.get(c, 0), c))
    return [(c, prod.get(c, 0), drill.get(c, 0)) for c in causes]


def _charts_html(s: Summary, output_dir: Path) -> list[str]:
    groups = [(g.key, g.metrics.rollback_rate_pct, g.metrics.rollbacks, g.metrics.deployments)
              for g in s.rate_by_period]
    return [
        "<h2>Charts</h2>",
        (f'<p class="sub">Rate: production deployments per {escape(s.period)} and the unplanned rollbacks within '
        "their window (as the metrics below). The other charts: rollbacks decided in the period.</p>"),
        f'<div class="chart">{charts.rate_bands_svg(groups)}</div>',
        f'<div class="chart">{charts.completion_svg(completion_points(s, output_dir), s.target_minutes * 60)}</div>',
        f'<div class="chart">{charts.share_svg(share_rows(s))}</div>',
        f'<div class="chart">{charts.causes_svg(cause_rows(s))}</div>',
    ]


def render_html(s: Summary, output_dir: Path) -> str:
    passed = sum(r.record.status == "passed" for r in s.runs)
    parts = ["<h1>Rollback drill summary</h1>",
             f'<p class="sub">Period: {escape(_period_text(s))} · {len(s.runs)} drill run(s), {passed} passed</p>',
             *_charts_html(s, output_dir),
             "<h2>Drill runs</h2>"]
    if s.runs:
        parts.append(_html_table(RUN_HEADERS, [_run_cells(r) for r in s.runs], "runs",
                                 [_link(r, output_dir) for r in s.runs]))
    else:
        parts.append("<p>No drill runs in the period.</p>")
    parts.append(f"<h2>Trend per drill, per {escape(s.period)}</h2>")
    parts.append(_html_table(TREND_HEADERS, [_trend_cells(t) for t in s.trend], "trend") if s.trend else "<p>—</p>")
    parts.append("<h2>Production rollback metrics (the standard)</h2>")
    parts.append(_html_table(METRIC_HEADERS, [list(row) for row in metric_rows(s.production)], "metrics"))
    parts.append(f'<p class="sub">Bands: {escape(INTERPRETATION)}.</p>')
    if s.production_by_quarter:
        parts.append("<h3>Production trend per quarter</h3>")
        parts.append(_html_table(QUARTER_HEADERS, [_quarter_cells(g) for g in s.production_by_quarter], "quarters"))
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>{escape('Rollback drill summary — ' + _period_text(s))}</title>\n<style>{CSS}</style>\n"
            "</head>\n<body>\n" + "\n".join(parts) + "\n</body>\n</html>\n")


def write_summary(store: Store, since: datetime | None, until: datetime | None, output_dir: Path,
                  period: Period = "auto", target_minutes: float = 15.0) -> list[Path]:
    """Write summary.html and summary.md for drill runs started in [since, until); returns both paths."""
    summary = build(store, since, until, period, target_minutes)
    output_dir.mkdir(parents=True, exist_ok=True)
    html_path, md_path = output_dir / "summary.html", output_dir / "summary.md"
    html_path.write_text(render_html(summary, output_dir), encoding="utf-8")
    md_path.write_text(render_markdown(summary), encoding="utf-8")
    return [html_path, md_path]
