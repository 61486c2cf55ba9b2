"""What every `drill` command shares: the one error-to-exit-code mapping and the one `--store` option.

    with mapped_errors():      # SpecError -> 2, BackendUnavailable -> 3, Ctrl-C -> 130
        ...

Commands raise the library's errors and never pick exit codes themselves; typer's own ``Exit``
and usage errors (``BadParameter``, exit 2) pass through untouched.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer

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
