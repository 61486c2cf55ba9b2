"""`drill runs` and `drill show RUN`: run history from the store, and one run's summary.

    drill runs [--limit 20] [--drill NAME] [--json] [--store URL]
    drill show RUN [--render] [--report-dir DIR] [--json] [--store URL]

RUN is a run id or a unique prefix of one. `--render` rewrites report.html, report.md and junit.xml
from the run's report.json (after a harness upgrade, or to fix a report by hand); report.json itself
is the record and is left alone. An unknown or ambiguous RUN exits 2; an unreachable or missing store
exits 3 (reading never creates a store). Wire it with `runs_cli.register(app)` in harness/cli/main.py. The
--store option and the error map are the shared ones of harness.cli.common.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from harness.cli.common import StoreOpt, mapped_errors
from harness.engine.results import DrillResult
from harness.errors import SpecError, SpecIssue
from harness.report import html, junit, markdown
from harness.report.load import load_result
from harness.report.outcome import expectation, outcome
from harness.store import DrillRunRecord, Store
from harness.store.codec import format_timestamp

RENDERERS = (html.write, markdown.write, junit.write)  # report.json is the source, never rewritten
STATUS_STYLE = {"passed": "green", "failed": "red", "error": "red", "aborted": "yellow", "inconclusive": "yellow"}


def _console() -> Console:
    return Console(highlight=False) if sys.stdout.isatty() else Console(width=200, highlight=False)


def _t(value: datetime | None) -> str:
    return "—" if value is None else format_timestamp(value.replace(microsecond=0))


def _s(value: float | None) -> str:
    return "—" if value is None else f"{value:,.2f} s"


def record_json(record: DrillRunRecord) -> dict[str, Any]:
    """A store row as JSON (timestamps ISO-8601 UTC)."""
    def plain(value: object) -> object:
        return format_timestamp(value) if isinstance(value, datetime) else value

    data = asdict(record)
    steps = data.pop("steps")
    return {**{k: plain(v) for k, v in data.items()},
            "steps": [{k: plain(v) for k, v in step.items()} for step in steps]}


def report_of(record: DrillRunRecord, report_dir: Path | None = None) -> DrillResult | None:
    """The run's report.json, if it is still where the store says (or in ``report_dir``)."""
    where = report_dir or (Path(record.report_dir) if record.report_dir else None)
    if where is None or not (where / "report.json").is_file():
        return None
    try:
        return load_result(where / "report.json")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SpecError(SpecIssue(str(where / "report.json"), "-", f"cannot read the report: {exc}")) from None


def runs(
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=10_000, help="How many runs, newest first.")] = 20,
    drill: Annotated[str | None, typer.Option("--drill", help="Only runs of this drill.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON on stdout (one object per run).")] = False,
    store: StoreOpt = None,
) -> None:
    """Recent drill runs from the store: id, drill, status, times."""
    with mapped_errors(), Store.open(store, read_only=True) as st:
        found = st.recent_drill_runs(limit, drill)
    if as_json:
        typer.echo(json.dumps([record_json(r) for r in found], indent=2))
        return
    if not found:
        typer.echo("no drill runs recorded" + (f" for {drill}" if drill else ""), err=True)
        return
    table = Table("run", "drill", "status", "started (UTC)", "decision", "completed (UTC)",
                  "decision → completion", "within target", "rolled back")
    for r in found:
        style = STATUS_STYLE.get(r.status, "")
        table.add_row(r.run_id, r.drill, f"[{style}]{r.status}[/]" if style else r.status, _t(r.started_at),
                      _t(r.decision_at), _t(r.completed_at), _s(r.decision_to_completion_s),
                      "—" if r.within_target is None else "yes" if r.within_target else "no",
                      "yes" if r.rolled_back else "no")
    _console().print(table)


def _find(st: Store, run: str) -> DrillRunRecord:
    found = st.find_drill_runs(run)
    if not found:
        raise SpecError(SpecIssue("RUN", "run", f"no drill run {run!r} in the store ({st.url.split('@')[-1]}); "
                                                "see `drill runs`"))
    if len(found) > 1:
        raise SpecError(SpecIssue("RUN", "run", f"{run!r} matches {len(found)} runs: "
                                                + ", ".join(r.run_id for r in found[:5])))
    return found[0]


def show(
    run: Annotated[str, typer.Argument(metavar="RUN", help="Run id (or a unique prefix).")],
    render: Annotated[bool, typer.Option("--render", help="Rewrite report.html, report.md and junit.xml "
                                                          "from report.json.")] = False,
    report_dir: Annotated[Path | None, typer.Option("--report-dir", help="Where the run's report.json is, "
                                                       "if it moved since the run.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="The store row (and report.json, if present) as JSON.")]
    = False,
    store: StoreOpt = None,
) -> None:
    """One run's summary from the store (and its report.json), optionally re-rendering its reports."""
    with mapped_errors():
        with Store.open(store, read_only=True) as st:
            record = _find(st, run)
        directory = report_dir or (Path(record.report_dir) if record.report_dir else None)
        result = report_of(record, directory)
        if render:
            if result is None or directory is None:
                raise SpecError(SpecIssue(str(directory or record.report_dir or "?"), "report.json",
                                          "no report.json to render from (give --report-dir if it moved)"))
            for writer in RENDERERS:
                typer.echo(f"wrote {writer(result, directory)}", err=True)
    if as_json:
        typer.echo(json.dumps({"run": record_json(record), "report": result.to_json() if result else None}, indent=2))
        return
    _print_summary(record, result, directory)


def _print_summary(r: DrillRunRecord, result: DrillResult | None, directory: Path | None) -> None:
    console = _console()
    style = STATUS_STYLE.get(r.status, "")
    head = f"[bold]{r.run_id}[/]  drill {r.drill}  [{style}]{r.status.upper()}[/]" if style else r.run_id
    console.print(head)
    within = "—" if r.within_target is None else "yes" if r.within_target else "no"
    rows: list[tuple[str, str]] = []
    if result is not None:
        o = outcome(result)
        rows += [("outcome", f"{o.label} — {result.reason}"), ("expected", expectation(result))]
    rows += [
        ("model", f"{r.model}: {r.from_version} deployed" + (f", back to {r.to_version}" if r.to_version else "")),
        ("decision", f"{r.trigger or '—'} ({r.root_cause or '—'})"),
        ("started", _t(r.started_at)), ("deployed", _t(r.deployed_at)), ("first breach", _t(r.first_breach_at)),
        ("decision at", _t(r.decision_at)), ("rollback started", _t(r.rollback_started_at)),
        ("completed", _t(r.completed_at)),
        ("decision → completion", f"{_s(r.decision_to_completion_s)} (target {r.target_s:g} s, within: {within})"),
    ]
    if result is not None and result.traffic is not None:
        t = result.traffic
        rows.append(("traffic", (f"{t.requests:,} requests, {t.failed:,} failed, "
                                 f"{t.failed_during_rollback:,} failed during the rollback")))
    rows.append(("reports", str(directory) if directory else "—"))
    if result is None and directory is not None:
        rows.append(("", "report.json is not there any more; the store row above is the record"))
    table = Table.grid(padding=(0, 2))
    for key, value in rows:
        table.add_row(f"[dim]{key}[/]", value)
    console.print(table)
    if r.steps:
        steps = Table("#", "step", "action", "status", "duration", "attempts", "error")
        for i, s in enumerate(r.steps, 1):
            st_style = {"ok": "green", "failed": "red"}.get(s.status, "")
            steps.add_row(str(i), s.name, s.action, f"[{st_style}]{s.status}[/]" if st_style else s.status,
                          _s(s.duration_s), str(s.attempts), s.error or "")
        console.print(steps)


def register(app: typer.Typer) -> None:
    """Add `drill runs` and `drill show` to the drill app."""
    app.command("runs")(runs)
    app.command("show")(show)
