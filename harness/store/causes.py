"""Cause keys: short identifiers of one specific post-mortem finding, e.g. ``schema-drift:customer_age``.

A root-cause *class* (performance, upstream-data...) says what kind of thing went wrong; two rollbacks of the
same class are not the same problem. A cause key names the finding itself, so "this rollback's cause had
already been identified in an earlier post-mortem" is a plain equality. The grammar is deliberately narrow
(a lowercase class, then optionally ``:`` and a detail) so keys typed by different people still match.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

MAX_LENGTH = 120
_KEY = re.compile(r"[a-z0-9][a-z0-9-]*(:[A-Za-z0-9][A-Za-z0-9_.\-/]*)?")
GRAMMAR = "a lowercase class such as schema-drift, optionally ':' and a detail (letters, digits, _ . - /)"


def check_cause_key(text: str) -> str:
    """The key, stripped; ValueError saying what a key looks like otherwise."""
    key = text.strip() if isinstance(text, str) else text
    if not isinstance(key, str) or not key:
        raise ValueError(f"a cause key must be a non-empty string ({GRAMMAR}), got {text!r}")
    if len(key) > MAX_LENGTH:
        raise ValueError(f"cause key longer than {MAX_LENGTH} characters: {key[:40]!r}...")
    if _KEY.fullmatch(key) is None:
        raise ValueError(f"malformed cause key {key!r}: expected {GRAMMAR}")
    return key


def check_cause_keys(keys: Iterable[str]) -> tuple[str, ...]:
    """Every key checked, duplicates dropped, first-seen order kept."""
    seen: dict[str, None] = {}
    for key in keys:
        seen[check_cause_key(key)] = None
    return tuple(seen)


def split_cause_keys(text: str) -> list[str]:
    """A comma- or whitespace-separated list (an MLflow tag holds one string)."""
    return [part for part in re.split(r"[,\s]+", text) if part]
