"""`drill actions`, `drill faults` and `drill docs reference`: what a runbook step, a drill's fault and a
command may say, from the models and the app itself.

    drill actions            every action: summary, then each parameter's type, default and limits
    drill actions NAME       one action
    drill faults             every fault kind, the target kinds that take it, the fields it needs or takes
    drill docs reference DIR the documentation site's reference pages as Markdown (harness.reference)

`register(app)` adds these commands to the drill app; `command_docs()` walks the app for the command reference.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

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


def reference_command(
    output: Annotated[Path, typer.Argument(help="Directory the reference/ pages are written under (not docs/: the site's build adds them itself)")],
) -> None:
    """Write the documentation site's reference pages (every field, action, fault, command) as Markdown."""
    from harness.reference import pages

    for name, text in pages().items():
        path = output / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {path}")


@dataclass(frozen=True)
class CommandDoc:
    path: tuple[str, ...]  # ("images", "build")
    usage: str  # "drill images build [OPTIONS]"
    help: str
    options: tuple[tuple[str, str], ...]  # ("--report-dir PATH", "Where reports/<run-id>/ go [default: reports]")


def command_docs() -> list[CommandDoc]:
    """Every leaf command of the drill app, in the order `drill --help` lists them."""
    from typer.main import get_command

    from harness.cli.main import app

    found: list[CommandDoc] = []

    def walk(command: Any, path: tuple[str, ...], parent: Any) -> None:
        ctx = typer.Context(command, info_name=" ".join(("drill", *path)), parent=parent)
        subs = getattr(command, "commands", None)
        if subs:
            for name, sub in subs.items():
                if not sub.hidden:
                    walk(sub, (*path, name), ctx)
            return
        options = []
        for param in command.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is not None and param.param_type_name == "option":
                options.append((record[0], record[1]))
            elif param.param_type_name == "argument":
                options.append((str(param.display_name_raw).upper(), getattr(param, "help", None) or ""))
        usage = " ".join(("drill", *path, *command.collect_usage_pieces(ctx)))
        found.append(CommandDoc(path, usage, (command.help or "").strip(), tuple(options)))

    walk(get_command(app), (), None)
    return found


def register(app: typer.Typer) -> None:
    app.command("actions")(actions_command)
    app.command("faults")(faults_command)
    docs_app = typer.Typer(help="The documentation site's generated pages.", no_args_is_help=True)
    docs_app.command("reference")(reference_command)
    app.add_typer(docs_app, name="docs")
