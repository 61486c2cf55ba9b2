"""`drill status [--store URL] [--json]`: runbook freshness; exit 1 when anything is stale (a CI gate)."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.console import Console

from harness.cli.common import StoreOpt, mapped_errors
from harness.exit_codes import ExitStatus


def status(
    as_json: Annotated[bool, typer.Option("--json", help="Print the status as JSON on stdout.")] = False,
    store: StoreOpt = None,
) -> None:
    """For every runbook of the project (and model in the store): last drilled, by which drill, outcome, age,
    changed since; stale past its `freshness:` (90 days) or when edited since its last as-expected drill."""
    from harness.programme.freshness import project_runbooks
    from harness.programme.freshness import status as compute
    from harness.programme.render import status_table
    from harness.store import Store

    with mapped_errors():
        runbooks = project_runbooks()  # bad drill or runbook files: exit 2 before the store is opened
        with Store.open(store, read_only=True) as st:
            report = compute(st, runbooks)
    if as_json:
        typer.echo(json.dumps(report.to_json(), indent=2))
    else:
        Console(width=None if sys.stdout.isatty() else 200).print(status_table(report))
    raise typer.Exit(int(ExitStatus.DRILL_FAILED if report.stale else ExitStatus.OK))


def register(app: typer.Typer) -> None:
    app.command("status")(status)
