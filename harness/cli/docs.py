"""`drill actions`, `drill faults` and `drill docs reference`: what a runbook step, a drill's fault and a
command may say, from the models and the app itself.

    drill actions            every action: summary, then each parameter's type, default and limits
    drill actions NAME       one action
    drill faults             every fault kind, the target kinds that take it, the fields it needs or takes
    drill docs reference DIR the documentation site's reference pages as Markdown (harness.authoring.reference)

`register(app)` adds these commands to the drill app (the command reference walks the app it is called from).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from harness.authoring.describe import ParamDoc, action_docs, fault_docs
from harness.cli.common import mapped_errors
from harness.errors import SpecError, SpecIssue
from harness.spec.catalogue import did_you_mean


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


def reference_command(
    ctx: typer.Context,
    output: Annotated[Path, typer.Argument(help="Directory the reference/ pages are written under (not docs/: the site's build adds them itself)")],
) -> None:
    """Write the documentation site's reference pages (every field, action, fault, command) as Markdown."""
    from harness.authoring.reference import pages

    for name, text in pages(ctx.find_root().command).items():
        path = output / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {path}")


def register(app: typer.Typer) -> None:
    app.command("actions")(actions_command)
    app.command("faults")(faults_command)
    docs_app = typer.Typer(help="The documentation site's generated pages.", no_args_is_help=True)
    docs_app.command("reference")(reference_command)
    app.add_typer(docs_app, name="docs")
