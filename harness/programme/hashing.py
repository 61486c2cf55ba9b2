"""A runbook's content hash, recorded with each drill run so `drill status` can tell it was edited since."""

from __future__ import annotations

import hashlib
from pathlib import Path


def content_hash(path: Path) -> str | None:
    """sha256 of the file's bytes (hex), or None when it cannot be read."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None
