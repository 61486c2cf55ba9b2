"""Report writers. Each listens for RunFinished and writes into the run's report directory."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from harness.engine.events import Event, RunFinished
from harness.engine.results import DrillResult
from harness.report import html, jsonreport, junit, markdown

Writer = Callable[[DrillResult, Path], Path]
WRITERS: list[Writer] = [jsonreport.write, markdown.write, html.write, junit.write]


def register(writer: Writer) -> None:
    """Add a writer ``(result, directory) -> Path`` for every later run."""
    WRITERS.append(writer)


def write_all(result: DrillResult, directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    return [writer(result, directory) for writer in WRITERS]


class ReportListener:
    def __init__(self) -> None:
        self.written: list[Path] = []

    def on_event(self, event: Event) -> None:
        if isinstance(event, RunFinished) and event.result.report_dir:
            self.written = write_all(event.result, Path(event.result.report_dir))
