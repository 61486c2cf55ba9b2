"""report.json: the machine-readable result of one run."""

from __future__ import annotations

import json
from pathlib import Path

from harness.engine.results import DrillResult


def write(result: DrillResult, directory: Path) -> Path:
    path = directory / "report.json"
    path.write_text(json.dumps(result.to_json(), indent=2) + "\n", encoding="utf-8")
    return path
