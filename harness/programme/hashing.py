"""A runbook's content hash, recorded with each drill run so `drill status` can tell its *meaning* changed since.

The hash is taken over the parsed runbook (the validated model with its defaults, as canonical JSON), so a
comment, a reformatting, reordered keys or spelling out a default change nothing, while any change to what
the runbook does (a step, a parameter, a retry, its freshness) changes the hash. A file that does not
validate falls back to its parsed YAML, then to its bytes. `file_hash` is the byte hash runs recorded before
issue 28 carry; `drill status` accepts either, so an upgrade does not make every runbook stale.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import yaml

from harness.errors import SpecError
from harness.spec.models import RunbookSpec, parse_model


def _digest(data: Any) -> str:
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def content_hash(path: Path) -> str | None:
    """sha256 of the runbook's meaning (hex), or None when the file cannot be read."""
    try:
        raw = path.read_bytes()
    except OSError:
        return None
    try:
        return _digest(parse_model(path, RunbookSpec).model_dump(mode="json"))
    except SpecError:
        pass
    try:
        return _digest(yaml.safe_load(raw.decode("utf-8")))
    except (yaml.YAMLError, UnicodeDecodeError):
        return hashlib.sha256(raw).hexdigest()


def file_hash(path: Path) -> str | None:
    """sha256 of the file's bytes (hex): what runs recorded before meaning hashes carry."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None
