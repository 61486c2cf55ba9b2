"""The command reference's source: every leaf command of a click/typer app, its usage, help and options.

The app is passed in (``drill docs reference`` passes the root of the app it runs in; the site's hook passes
``typer.main.get_command(harness.cli.main.app)``), so the authoring wing never imports the command line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import typer


@dataclass(frozen=True)
class CommandDoc:
    path: tuple[str, ...]  # ("images", "build")
    usage: str  # "drill images build [OPTIONS]"
    help: str
    options: tuple[tuple[str, str], ...]  # ("--report-dir PATH", "Where reports/<run-id>/ go [default: reports]")


def command_docs(root: Any) -> list[CommandDoc]:
    """Every leaf command of the app ``root`` (the drill app: ``typer.main.get_command(harness.cli.main.app)``),
    in the order `drill --help` lists them."""
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

    walk(root, (), None)
    return found
