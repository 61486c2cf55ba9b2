"""`drill record`, `drill import`, `drill export`, `drill metrics`: thin commands over harness.store.

Each command parses flags, calls the library, renders, and maps errors to exit codes through
`harness.cli.common.mapped_errors` (SpecError -> 2, BackendUnavailable -> 3). Bad flag values
(a timestamp without offset, an unknown trigger or root cause) are usage errors: typer
names the option and exits 2. `register(app)` adds the commands to the main app.
The read-only commands (export, metrics) never create a store: a missing SQLite file exits 3 saying so.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)

from harness.cli.common import StoreOpt, mapped_errors
from harness.errors import BackendUnavailable
from harness.store import (
    PRODUCTION,
    Deployment,
    Event,
    GroupBy,
    Metrics,
    MetricsGroup,
    MetricsQuery,
    PostmortemSignals,
    Rollback,
    RootCause,
    Store,
    Trigger,
    check_cause_keys,
    event_to_json,
    format_timestamp,
    parse_date_or_timestamp,
    parse_timestamp,
    read_jsonl,
    write_jsonl,
)
from harness.store.codec import ImportEvent
from harness.store.openmetrics import render as render_openmetrics
from harness.store.render import groups_table, metrics_table

PROGRESS_THRESHOLD = 10_000  # events; smaller imports finish before a bar is worth drawing


class OutputFormat(StrEnum):
    TABLE = "table"
    JSON = "json"
    OPENMETRICS = "openmetrics"


EnvOpt = Annotated[str, typer.Option("--environment", help="Environment the event belongs to.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout.")]


record_app = typer.Typer(help="Record a production deployment or rollback.", no_args_is_help=True)


@record_app.command("deploy")
def record_deploy(
    model: Annotated[str, typer.Option("--model", help="Model name.")],
    version: Annotated[str, typer.Option("--version", help="Version deployed.")],
    at: Annotated[datetime | None, typer.Option("--at", parser=parse_timestamp,
                                                   metavar="ISO-8601", help="Default: now.")] = None,
    environment: EnvOpt = PRODUCTION,
    as_json: JsonOpt = False,
    store: StoreOpt = None,
) -> None:
    """Record that a model version went live."""
    try:
        deployment = Deployment(model, version, at or datetime.now(UTC), environment)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    with mapped_errors(), Store.open(store) as st:
        new = st.record_deployment(deployment)
    if as_json:
        typer.echo(json.dumps({"recorded": new, "event": event_to_json(deployment)}, indent=2))
        return
    state = "recorded" if new else "already recorded"
    typer.echo(f"{state}: deployment {model} {version} ({environment}) "
               f"at {format_timestamp(deployment.deployed_at)}")


@record_app.command("rollback")
def record_rollback(
    model: Annotated[str, typer.Option("--model", help="Model name.")],
    from_version: Annotated[str, typer.Option("--from", help="Version rolled back from.")],
    to_version: Annotated[str, typer.Option("--to", help="Version rolled back to.")],
    decided_at: Annotated[datetime, typer.Option("--decided-at", parser=parse_timestamp,
                                                 metavar="ISO-8601")],
    completed_at: Annotated[datetime, typer.Option("--completed-at", parser=parse_timestamp,
                                                   metavar="ISO-8601")],
    trigger: Annotated[Trigger, typer.Option("--trigger", case_sensitive=False)],
    root_cause: Annotated[RootCause, typer.Option("--root-cause", case_sensitive=False)],
    planned: Annotated[bool, typer.Option(
        "--planned", help="A planned rollback (not counted in the rate).")] = False,
    rca_url: Annotated[str | None, typer.Option(
        "--rca-url", help="Published root-cause analysis.")] = None,
    cause_key: Annotated[list[str] | None, typer.Option(
        "--cause-key", metavar="KEY", help="A post-mortem finding, e.g. schema-drift:customer_age (repeatable).")] = None,
    environment: EnvOpt = PRODUCTION,
    as_json: JsonOpt = False,
    store: StoreOpt = None,
) -> None:
    """Record a rollback: when it was decided, when it completed, why. Refused (exit 2, nothing written) when
    decided before its version's first recorded deployment."""
    if completed_at < decided_at:
        raise typer.BadParameter("is before --decided-at", param_hint="'--completed-at'")
    try:
        check_cause_keys(cause_key or [])
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="'--cause-key'") from None
    try:
        rollback = Rollback(model, from_version, to_version, decided_at, completed_at, trigger,
                            root_cause, planned, rca_url, environment, tuple(cause_key or ()))
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    with mapped_errors(), Store.open(store) as st:
        new = st.record_rollback(rollback)
    if as_json:
        typer.echo(json.dumps({"recorded": new, "event": event_to_json(rollback)}, indent=2))
        return
    state = "recorded" if new else "already recorded"
    typer.echo(f"{state}: rollback {model} {from_version} -> {to_version} ({environment}) "
               f"decided {format_timestamp(rollback.decided_at)}")


class ImportSource(StrEnum):
    JSONL = "jsonl"
    MLFLOW = "mlflow"


def import_events(
    file: Annotated[Path | None, typer.Argument(metavar="[FILE.jsonl]", help="One event per line.")] = None,
    source: Annotated[ImportSource, typer.Option(
        "--from", case_sensitive=False, help="jsonl (FILE), or mlflow: alias moves and rollback tags.")] = ImportSource.JSONL,
    tracking_uri: Annotated[str | None, typer.Option(
        "--tracking-uri", envvar="MLFLOW_TRACKING_URI", help="MLflow tracking/registry URI (with --from mlflow).")] = None,
    mlflow_model: Annotated[str | None, typer.Option(
        "--model", help="Only this registered model (with --from mlflow; default: all).")] = None,
    environment: Annotated[str, typer.Option(
        "--environment", help="Environment of MLflow events not made by a drill.")] = PRODUCTION,
    as_json: JsonOpt = False,
    store: StoreOpt = None,
) -> None:
    """Import deployments and rollbacks from JSONL or an MLflow registry: all or nothing, duplicates skipped."""
    if source is ImportSource.MLFLOW:
        if file is not None:
            raise typer.BadParameter("takes no FILE with --from mlflow", param_hint="FILE.jsonl")
        if not tracking_uri:
            raise typer.BadParameter("is required with --from mlflow", param_hint="'--tracking-uri'")
    elif file is None:
        raise typer.BadParameter("is required (or use --from mlflow)", param_hint="FILE.jsonl")
    events: Sequence[ImportEvent]
    with mapped_errors():
        if source is ImportSource.MLFLOW:
            assert tracking_uri is not None
            events, label = _mlflow_events(tracking_uri, mlflow_model, environment), tracking_uri
        else:
            assert file is not None
            events, label = read_jsonl(file), str(file)
        with Store.open(store) as st:
            if sys.stderr.isatty() and len(events) >= PROGRESS_THRESHOLD:
                with Progress(TextColumn("importing"), BarColumn(), MofNCompleteColumn(),
                              TimeRemainingColumn(), console=Console(stderr=True)) as bar:
                    task = bar.add_task("import", total=len(events))
                    result = st.import_events(events, on_progress=lambda n: bar.advance(task, n), source=label)
            else:
                result = st.import_events(events, source=label)
    if as_json:
        typer.echo(json.dumps({"source": label, **asdict(result), "inserted": result.inserted,
                               "skipped": result.skipped}, indent=2))
        return
    typer.echo(f"imported {label}: {result.inserted} new, {result.skipped} already present "
               f"({result.deployments_inserted} deployments, {result.rollbacks_inserted} rollbacks"
               + (f", {result.runs_inserted} drill runs)" if result.runs_inserted or result.runs_skipped else ")"))


def _mlflow_events(tracking_uri: str, model: str | None, environment: str) -> list[Event]:
    try:
        from harness.targets.mlflow.importer import read_events
    except ImportError as exc:
        raise BackendUnavailable(f"--from mlflow needs the mlflow extra: pip install 'drill-harness[mlflow]' ({exc})") from None
    return read_events(tracking_uri, model, environment)


def export_events(
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Default: stdout.")] = None,
    store: StoreOpt = None,
) -> None:
    """Write every deployment and rollback as JSONL (the import format)."""
    with mapped_errors(), Store.open(store, read_only=True) as st:
        if output is None:
            write_jsonl(st.export_events(), sys.stdout)
            return
        with output.open("w", encoding="utf-8") as handle:
            count = write_jsonl(st.export_events(), handle)
    typer.echo(f"exported {count} events to {output}", err=True)


def metrics(
    since: Annotated[datetime | None, typer.Option("--since", parser=parse_date_or_timestamp,
                     metavar="DATE", help="First deployment day counted (UTC).")] = None,
    until: Annotated[datetime | None, typer.Option("--until", parser=parse_date_or_timestamp,
                     metavar="DATE", help="End of the period, exclusive.")] = None,
    window_days: Annotated[float, typer.Option(
        "--window-days", help="Rollback window after a deployment.")] = 7.0,
    environment: Annotated[str, typer.Option("--environment")] = PRODUCTION,
    model: Annotated[str | None, typer.Option("--model")] = None,
    target_minutes: Annotated[float, typer.Option(
        "--target-minutes", help="Decision-to-completion target.")] = 15.0,
    fmt: Annotated[OutputFormat, typer.Option("--format", case_sensitive=False)] = OutputFormat.TABLE,
    by: Annotated[GroupBy | None, typer.Option("--by", case_sensitive=False, help="Trend rows.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (the same as --format json).")] = False,
    store: StoreOpt = None,
) -> None:
    """Rollback rate, its band, time to rollback and the standard's signals of success, each figure over
    a named population (in-window rollbacks, all unplanned rollbacks in the period; see docs/store.md)."""
    if as_json:
        if fmt is OutputFormat.OPENMETRICS:
            raise typer.BadParameter("give --json or --format openmetrics, not both", param_hint="'--json'")
        fmt = OutputFormat.JSON
    if window_days <= 0:
        raise typer.BadParameter("must be greater than 0", param_hint="'--window-days'")
    if target_minutes <= 0:
        raise typer.BadParameter("must be greater than 0", param_hint="'--target-minutes'")
    if since is not None and until is not None and until <= since:
        raise typer.BadParameter("must be after --since", param_hint="'--until'")
    query = MetricsQuery(since, until, window_days, environment, model, target_minutes)
    with mapped_errors(), Store.open(store, read_only=True) as st:
        if by is None:
            _show_metrics(st.metrics(query), fmt, st.postmortem_signals(query))
        else:
            _show_groups(st.metrics_by(query, by), by, fmt)


def _console() -> Console:
    # Piped output gets room for the trend table instead of rich's 80-column fallback.
    return Console() if sys.stdout.isatty() else Console(width=160)


def _show_metrics(m: Metrics, fmt: OutputFormat, postmortems: PostmortemSignals | None = None) -> None:
    if fmt is OutputFormat.JSON:
        extra = {"postmortems": postmortems.to_json()} if postmortems is not None else {}
        typer.echo(json.dumps({**m.to_json(), **extra}, indent=2))
    elif fmt is OutputFormat.OPENMETRICS:
        sys.stdout.write(render_openmetrics([((), m)]))
    else:
        _console().print(metrics_table(m, postmortems))


def _show_groups(groups: list[MetricsGroup], by: GroupBy, fmt: OutputFormat) -> None:
    if fmt is OutputFormat.JSON:
        typer.echo(json.dumps([{by.value: g.key, **g.metrics.to_json()} for g in groups], indent=2))
    elif fmt is OutputFormat.OPENMETRICS:
        sys.stdout.write(render_openmetrics([(((by.value, g.key),), g.metrics) for g in groups]))
    else:
        _console().print(groups_table(groups, by.value))


def register(app: typer.Typer) -> None:
    """Add record / import / export / metrics to the drill app."""
    app.add_typer(record_app, name="record")
    app.command("import")(import_events)
    app.command("export")(export_events)
    app.command("metrics")(metrics)
