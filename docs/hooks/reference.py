"""MkDocs hook: add the generated reference pages (harness/authoring/reference.py) to the build, from the models."""

from __future__ import annotations

from typing import Any

from mkdocs.structure.files import File, Files
from typer.main import get_command

from harness.authoring.reference import pages
from harness.cli.main import app


def on_files(files: Files, config: Any) -> Files:
    for path, text in pages(get_command(app)).items():
        files.append(File.generated(config, path, content=text))
    return files
