"""What every `drill` command shares: the one error-to-exit-code mapping and the one `--store` option.

    with mapped_errors():      # SpecError -> 2, BackendUnavailable -> 3, Ctrl-C -> 130
        ...

Commands raise the library's errors and never pick exit codes themselves; typer's own ``Exit``
and usage errors (``BadParameter``, exit 2) pass through untouched.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from harness.errors import BackendUnavailable, SpecError
from harness.exit_codes import ExitStatus
from harness.listeners.console import SafeConsole
from harness.store.db import DEFAULT_STORE_ENV

err = SafeConsole(stderr=True, highlight=False, soft_wrap=True)  # messages name paths: never wrap them

StoreOpt = Annotated[
    str | None,
    typer.Option("--store", envvar=DEFAULT_STORE_ENV, show_envvar=True,
                 help="Store URL (postgresql://...) or SQLite path. Default: ~/.local/share/drill/drill.db"),
]


@contextmanager
def mapped_errors() -> Iterator[None]:
    """Bad input -> 2 (every issue on stderr), environment -> 3, Ctrl-C -> 130.

    A run interrupted after it was recorded (the engine's ``RunInterrupted``, a KeyboardInterrupt
    carrying ``result``) says how it was recorded."""
    try:
        yield
    except SpecError as exc:
        for issue in exc.issues:
            err.print(f"error: {issue}", markup=False)
        raise typer.Exit(ExitStatus.BAD_INPUT) from None
    except BackendUnavailable as exc:
        err.print(f"environment: {exc}", markup=False)
        raise typer.Exit(ExitStatus.ENVIRONMENT) from None
    except KeyboardInterrupt as exc:
        result = getattr(exc, "result", None)
        status = getattr(getattr(result, "status", None), "value", None)
        err.print("interrupted" if status is None else
                  f"interrupted; the stack was torn down and the run recorded as {status}", markup=False)
        raise typer.Exit(ExitStatus.INTERRUPTED) from None


class DrillGroup(TyperGroup):
    """The ``drill`` command group: help that shows a type only where an option takes a value.

    Typer's rich help prints ``<bool>`` after every on/off flag (``--json <bool>``), which reads as if the
    flag wanted a value; a flag's empty metavar keeps that column blank. Applied once, to every command
    and subgroup, when typer builds the group."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _blank_flag_types(self)

    def get_params(self, ctx: Any) -> Any:
        params = super().get_params(ctx)  # typer appends the completion flags after __init__
        for param in params:
            if getattr(param, "is_flag", False):
                param.metavar = ""
        return params


def _blank_flag_types(command: Any) -> None:
    # Typer vendors its own click: duck-typed, not isinstance against the click package.
    with typer.Context(command) as ctx:
        help_option = command.get_help_option(ctx)  # made once and cached by the command
    for param in [*command.params, help_option]:
        if getattr(param, "is_flag", False):
            param.metavar = ""
    for sub in getattr(command, "commands", {}).values():
        _blank_flag_types(sub)
