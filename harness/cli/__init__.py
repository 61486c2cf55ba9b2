"""The ``drill`` command line: typer commands, thin over the library (``harness.api``)."""

from harness.cli.main import app, main

__all__ = ["app", "main"]
