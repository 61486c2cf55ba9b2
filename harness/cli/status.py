"""`drill status [--json | --format openmetrics]` and `drill gate --model M [--min-score N]`.

status: runbook freshness, models, and each model's rollback readiness; exit 1 when anything is stale (a CI gate).
gate: one model's readiness for a deploy pipeline; exit 1 below the minimum score, with a stale runbook, or
when its latest drill did not end as expected; exit 2 for a model neither the project nor the store knows.
"""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from typing import Annotated

import typer
from rich.console import Console

from harness.cli.common import StoreOpt, mapped_errors
from harness.exit_codes import ExitStatus


class StatusFormat(StrEnum):
    TABLE = "table"
    JSON = "json"
    OPENMETRICS = "openmetrics"


def _console() -> Console:
    return Console(width=None if sys.stdout.isatty() else 200)


def status(
    as_json: Annotated[bool, typer.Option("--json", help="Print the status as JSON on stdout.")] = False,
    fmt: Annotated[StatusFormat, typer.Option("--format", case_sensitive=False,
                                              help="table, json, or openmetrics (the readiness scores).")]
    = StatusFormat.TABLE,
    store: StoreOpt = None,
) -> None:
    """For every runbook of the project (and model in the store): last drilled, by which drill, outcome, age,
    changed since; stale past its `freshness:` (90 days), when its meaning changed since its last as-expected
    drill, or when its latest drill did not end as expected. Then each model's rollback readiness."""
    from harness.programme.freshness import project
    from harness.programme.freshness import status as compute
    from harness.programme.readiness import readiness
    from harness.programme.render import readiness_openmetrics, readiness_table, status_table
    from harness.store import Store

    fmt = StatusFormat.JSON if as_json else fmt
    with mapped_errors():
        runbooks, drills = project()  # bad drill or runbook files: exit 2 before the store is opened
        with Store.open(store, read_only=True) as st:
            report = compute(st, runbooks)
            scores = readiness(st, report, drills)
    if fmt is StatusFormat.JSON:
        typer.echo(json.dumps({**report.to_json(), "readiness": [r.to_json() for r in scores]}, indent=2))
    elif fmt is StatusFormat.OPENMETRICS:
        sys.stdout.write(readiness_openmetrics(scores))
    else:
        console = _console()
        console.print(status_table(report))
        console.print(readiness_table(scores))
    raise typer.Exit(int(ExitStatus.DRILL_FAILED if report.stale else ExitStatus.OK))


def gate(
    model: Annotated[str, typer.Option("--model", help="The model about to be deployed.")],
    min_score: Annotated[float, typer.Option("--min-score", min=0, max=100,
                                             help="Lowest readiness score that passes (0-100).")] = 70.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the readiness as JSON on stdout.")] = False,
    store: StoreOpt = None,
) -> None:
    """Exit 0 when the model is ready to roll back: every runbook its drills use fresh, its latest drill as
    expected, and its readiness score at least --min-score; else exit 1, saying why."""
    from harness.programme.freshness import project
    from harness.programme.freshness import status as compute
    from harness.programme.readiness import of_model, readiness
    from harness.programme.render import readiness_table
    from harness.store import Store

    with mapped_errors():
        runbooks, drills = project()
        with Store.open(store, read_only=True) as st:
            item = of_model(readiness(st, compute(st, runbooks), drills), model)
    reasons = item.reasons(min_score)
    ok = not reasons
    if as_json:
        typer.echo(json.dumps({**item.to_json(), "min_score": min_score, "passes": ok, "reasons": reasons}, indent=2))
    else:
        _console().print(readiness_table([item]))
        typer.echo(f"{model}: {'ready' if ok else 'not ready'} (score {item.score:g}, minimum {min_score:g})"
                   + (": " + "; ".join(reasons) if reasons else ""))
    raise typer.Exit(int(ExitStatus.OK if ok else ExitStatus.DRILL_FAILED))


def register(app: typer.Typer) -> None:
    app.command("status")(status)
    app.command("gate")(gate)
