"""MkDocs hook: add the generated reference pages (harness/authoring/reference.py) and the store page's figure
definitions (harness/store/definitions.py)."""

from __future__ import annotations

from typing import Any

from mkdocs.structure.files import File, Files
from typer.main import get_command

from harness.authoring.reference import pages
from harness.cli.main import app
from harness.store.definitions import DOCS_MARKER, definitions_markdown


def on_files(files: Files, config: Any) -> Files:
    for path, text in pages(get_command(app)).items():
        files.append(File.generated(config, path, content=text))
    return files


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """The store page's figure definitions, from the table the CLI and the reports read their labels from."""
    if DOCS_MARKER in markdown:
        return markdown.replace(DOCS_MARKER, definitions_markdown())
    return markdown
