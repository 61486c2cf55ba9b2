"""`drill actions` and `drill faults`: what a runbook step and a drill's fault may say, from the models.

    drill actions            every action: summary, then each parameter's type, default and limits
    drill actions NAME       one action
    drill faults             every fault kind and the fields it needs or takes

`register(app)` adds both commands to the drill app.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from harness.catalogue import did_you_mean
from harness.cli.common import mapped_errors
from harness.describe import ParamDoc, action_docs, fault_docs
from harness.errors import SpecError, SpecIssue


def _console() -> Console:
    return Console(width=None if sys.stdout.isatty() else 160, highlight=False)


def _params_table(params: tuple[ParamDoc, ...]) -> Table:
    table = Table("parameter", "type", "default", "limits", "meaning", box=None, pad_edge=False)
    for p in params:
        table.add_row(p.name, p.type, "(required)" if p.required else p.default or "", p.limits, p.description)
    return table


def actions_command(
    name: Annotated[str | None, typer.Argument(help="Only this action.")] = None,
) -> None:
    """Every runbook action with its parameters: types, defaults and limits."""
    with mapped_errors():
        docs = action_docs()
        if name is not None:
            known = [d.name for d in docs]
            docs = [d for d in docs if d.name == name]
            if not docs:
                raise SpecError(SpecIssue("<argument>", "action", f"no action named {name!r}"
                                          f"{did_you_mean(name, known)}; known: {', '.join(known)}"))
    out = _console()
    for doc in docs:
        services = f"  (names a stack service: {', '.join(doc.services)})" if doc.services else ""
        out.print(f"[bold]{doc.name}[/bold] — {doc.summary}{services}")
        out.print(_params_table(doc.params) if doc.params else "  no parameters", markup=False)
        out.print()


def faults_command() -> None:
    """Every fault kind a drill can give its candidate, and the fields each one needs or takes."""
    out = _console()
    for doc in fault_docs():
        out.print(f"[bold]{doc.kind}[/bold] — {doc.summary}")
        out.print(f"  target kinds: {', '.join(doc.targets)}", markup=False)
        out.print(_params_table(doc.params) if doc.params else "  no fields", markup=False)
        out.print()


def register(app: typer.Typer) -> None:
    app.command("actions")(actions_command)
    app.command("faults")(faults_command)
