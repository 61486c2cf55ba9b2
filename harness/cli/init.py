"""`drill init --image TAG`: scaffold a drill and a runbook for a team's own model server image.

    drill init --image team/model:1.4 [--port 8080] [--health-path /healthz] [--predict-path /predict]
               [--requests FILE] [--name NAME] [--dir .] [--force]

Bad flags exit 2 naming the flag; existing files are kept unless --force. Wire it with
`init_cli.register(app)` in harness/cli/main.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from harness.authoring.scaffold import scaffold
from harness.errors import SpecError
from harness.exit_codes import ExitStatus


def register(app: typer.Typer) -> None:
    @app.command()
    def init(
        image: Annotated[str, typer.Option("--image", help="Your model server's image (a local tag)")],
        port: Annotated[int, typer.Option(help="The port it serves on")] = 8080,
        health_path: Annotated[str, typer.Option("--health-path", help="GET this answers 200 when ready")] = "/healthz",
        predict_path: Annotated[str, typer.Option("--predict-path", help="Where predictions are asked for")] = "/predict",
        requests: Annotated[Path | None, typer.Option(help="A JSONL file of sample requests (one {\"body\": ..., \"expect\": ...} a line)")] = None,
        name: Annotated[str | None, typer.Option(help="The model's name (default: from the image)")] = None,
        directory: Annotated[Path, typer.Option("--dir", help="The project root: drills/ and runbooks/ go here")] = Path("."),
        force: Annotated[bool, typer.Option("--force", help="Overwrite an existing drill or runbook")] = False,
    ) -> None:
        """Scaffold a rollback drill and runbook for your own model server image."""
        try:
            done = scaffold(directory, image, port=port, health_path=health_path, predict_path=predict_path,
                            name=name, requests=requests, force=force)
        except SpecError as exc:
            for issue in exc.issues:
                typer.echo(f"error: {issue}", err=True)
            raise typer.Exit(ExitStatus.BAD_INPUT) from None
        for path in done.written:
            typer.echo(f"wrote {path}")
        for path in done.kept:
            typer.echo(f"kept  {path}")
        root = directory.resolve()
        hint = "" if root == Path.cwd().resolve() else f"DRILL_PATH={directory} "
        typer.echo(f"next: put real requests in the request file, then {hint}drill run {done.name}-canary")
