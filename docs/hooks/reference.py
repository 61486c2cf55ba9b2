"""MkDocs hook: add the generated reference pages (harness/reference.py) to the build, from the models."""

from __future__ import annotations

from typing import Any

from mkdocs.structure.files import File, Files

from harness.reference import pages


def on_files(files: Files, config: Any) -> Files:
    for path, text in pages().items():
        files.append(File.generated(config, path, content=text))
    return files
