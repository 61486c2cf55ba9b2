"""`drill release-notes --model M [--version V] [--format md|json] [--mlflow-uri URI]`: rollback history."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated

import typer

from harness.cli.common import StoreOpt, err, mapped_errors
from harness.errors import BackendUnavailable, SpecError


class NotesFormat(StrEnum):
    MD = "md"
    JSON = "json"


def release_notes(
    model: Annotated[str, typer.Option("--model", help="The model whose history to write.")],
    version: Annotated[str | None, typer.Option("--version", help="Only rollbacks of this version.")] = None,
    fmt: Annotated[NotesFormat, typer.Option("--format", case_sensitive=False)] = NotesFormat.MD,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (the same as --format json).")] = False,
    mlflow_uri: Annotated[str | None, typer.Option(
        "--mlflow-uri", metavar="TRACKING_URI",
        help="Also write the Markdown into this MLflow model version's description (needs --version).")] = None,
    store: StoreOpt = None,
) -> None:
    """The model's rollback history (versions, when, why, how fast, RCA links, its drills and their freshness).
    A model the store has never seen exits 2."""
    fmt = NotesFormat.JSON if as_json else fmt
    from harness.programme import release_notes as notes
    from harness.programme.freshness import project_runbooks, status
    from harness.store import Store

    with mapped_errors():
        if mlflow_uri is not None and version is None:
            raise SpecError("--mlflow-uri: give --version, the model version whose description to write")
        runbooks = project_runbooks()
        with Store.open(store, read_only=True) as st:
            built = notes.build(st, model, version, status(st, runbooks))
        text = notes.markdown(built)
        if mlflow_uri is not None:
            assert version is not None
            try:
                from harness.targets.mlflow.notes import write_description
            except ImportError as exc:
                raise BackendUnavailable(f"--mlflow-uri needs the mlflow extra ({exc})") from None
            write_description(mlflow_uri, model, version, text)
            err.print(f"wrote the release notes into models:/{model}/{version}'s description", markup=False)
    typer.echo(json.dumps(built.to_json(), indent=2) if fmt is NotesFormat.JSON else text, nl=False)
    if fmt is NotesFormat.JSON:
        typer.echo("")


def register(app: typer.Typer) -> None:
    app.command("release-notes")(release_notes)
