"""`drill report`: the summary report across stored drill runs (summary.html, summary.md).

    drill report [--since DATE] [--until DATE | --quarter 2026Q4] [--output DIR] [--store URL]

`--quarter` sets the period to that calendar quarter (UTC); an explicit `--since` moves its start.
Bad flag values exit 2 naming the option; an unreachable or missing store exits 3 (a report never
creates a store). Wire it with
`report_cli.register(app)` in harness/cli/main.py.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from harness.cli.common import StoreOpt, mapped_errors

QUARTER = re.compile(r"^\s*(\d{4})-?[Qq]([1-4])\s*$")


def parse_quarter(text: str) -> tuple[datetime, datetime]:
    """'2026Q4' (or '2026-Q4') -> [2026-10-01, 2027-01-01) in UTC; ValueError for anything else."""
    match = QUARTER.match(text)
    if not match:
        raise ValueError(f"expected a quarter like 2026Q4, got {text!r}")
    year, q = int(match.group(1)), int(match.group(2))
    start = datetime(year, 3 * q - 2, 1, tzinfo=UTC)
    end = datetime(year + 1, 1, 1, tzinfo=UTC) if q == 4 else datetime(year, 3 * q + 1, 1, tzinfo=UTC)
    return start, end


def _date(text: str) -> datetime:
    from harness.store.codec import parse_date_or_timestamp

    return parse_date_or_timestamp(text)


def report(
    since: Annotated[datetime | None, typer.Option(
        "--since", parser=_date, metavar="DATE", help="First day of the period (UTC date or ISO-8601 with offset).")] = None,
    until: Annotated[datetime | None, typer.Option(
        "--until", parser=_date, metavar="DATE", help="End of the period, exclusive.")] = None,
    quarter: Annotated[str | None, typer.Option(
        "--quarter", metavar="YYYYQn", help="A calendar quarter, e.g. 2026Q4 (instead of --until).")] = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="Directory for summary.html and summary.md.")]
    = Path("reports"),
    period: Annotated[str, typer.Option(
        "--trend", metavar="auto|week|quarter", help="Trend rows per week or quarter (auto: by the span).")] = "auto",
    target_minutes: Annotated[float, typer.Option(
        "--target-minutes", help="Decision-to-completion target for the production metrics.")] = 15.0,
    gameday: Annotated[str | None, typer.Option(
        "--gameday", metavar="ID", help="Instead: one GameDay's page (gameday-<ID>.html), as `drill gameday` named it.")] = None,
    store: StoreOpt = None,
) -> None:
    """Summary of drill runs and the production rollback metrics, as HTML and Markdown."""
    if gameday is not None:
        _gameday_page(gameday, output, store)
        return
    if quarter is not None:
        if until is not None:
            raise typer.BadParameter("give --quarter or --until, not both", param_hint="'--quarter'")
        try:
            q_start, until = parse_quarter(quarter)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="'--quarter'") from None
        since = since or q_start
    if since is not None and until is not None and until <= since:
        raise typer.BadParameter("the period ends before it starts", param_hint="'--until'" if quarter is None
                                 else "'--quarter'")
    if period not in ("auto", "week", "quarter"):
        raise typer.BadParameter("must be auto, week or quarter", param_hint="'--trend'")
    if target_minutes <= 0:
        raise typer.BadParameter("must be greater than 0", param_hint="'--target-minutes'")

    from harness.programme.freshness import project, status
    from harness.programme.readiness import readiness
    from harness.report import freshness
    from harness.report.summary import write_summary
    from harness.store import MetricsQuery, Store

    with mapped_errors():
        runbooks, drills = project()
        with Store.open(store, read_only=True) as st:
            paths = write_summary(st, since, until, output, period, target_minutes)  # type: ignore[arg-type]
            report = status(st, runbooks)
            signals = st.postmortem_signals(MetricsQuery(since=since, until=until))
            freshness.append(paths, report, readiness(st, report, drills, target_minutes=target_minutes), signals)
    for path in paths:
        typer.echo(f"wrote {path}")


def register(app: typer.Typer) -> None:
    """Add `drill report` to the drill app."""
    app.command("report")(report)


def _gameday_page(gameday_id: str, output: Path, store: str | None) -> None:
    from harness.errors import SpecError, SpecIssue
    from harness.report import gameday as page
    from harness.store import Store

    with mapped_errors(), Store.open(store, read_only=True) as st:
        record = st.gameday(gameday_id)
        if record is None:
            raise SpecError(SpecIssue("--gameday", "-", f"no GameDay {gameday_id!r} in the store"))
        path = page.write(record, st.gameday_runs(gameday_id), output)
    typer.echo(f"wrote {path}" + (f" (GameDay aborted: {record.reason})" if record.aborted else ""))
