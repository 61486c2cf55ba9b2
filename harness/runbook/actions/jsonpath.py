"""A small JSON path for checks on an API's answer: ``$.model_version.version``, ``aliases[0].alias``, ``a.b.0``.

Grammar: an optional ``$``, then steps: ``.name`` (or ``name`` first), ``[number]`` (a list index, negative
from the end) and ``["name"]`` (a key with dots or spaces). Parsed at load, so a malformed path is bad
input naming the step, never a check that silently finds nothing.
"""

from __future__ import annotations

import re
from typing import Any

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_INDEX = re.compile(r"\[(-?\d+)\]")
_QUOTED = re.compile(r"""\[(?:"([^"\\]*)"|'([^'\\]*)')\]""")
MISSING = object()


def parse(path: str) -> tuple[str | int, ...]:
    """The steps of ``path``; ValueError saying where it is malformed."""
    text = path.strip()
    i = 1 if text.startswith("$") else 0
    steps: list[str | int] = []
    first = True
    while i < len(text):
        index, quoted = _INDEX.match(text, i), _QUOTED.match(text, i)
        if index is not None:
            steps.append(int(index.group(1)))
            i = index.end()
        elif quoted is not None:
            steps.append(quoted.group(1) if quoted.group(1) is not None else quoted.group(2))
            i = quoted.end()
        else:
            if text[i] == ".":
                i += 1
            elif not (first and i == 0):
                raise ValueError(f"malformed JSON path {path!r} at column {i + 1}: expected '.', '[n]' or '[\"key\"]'")
            name = _NAME.match(text, i)
            number = re.compile(r"-?\d+").match(text, i)
            if name is not None:
                steps.append(name.group(0))
                i = name.end()
            elif number is not None:  # a.0.b: a list index in dotted form
                steps.append(int(number.group(0)))
                i = number.end()
            else:
                raise ValueError(f"malformed JSON path {path!r} at column {i + 1}: expected a key name")
        first = False
    if not steps:
        raise ValueError(f"malformed JSON path {path!r}: no steps (e.g. $.model_version.version)")
    return tuple(steps)


def find(data: Any, steps: tuple[str | int, ...]) -> Any:
    """The value at ``steps`` in ``data``; ``MISSING`` where a step is not there."""
    node = data
    for step in steps:
        if isinstance(step, int) and isinstance(node, list) and -len(node) <= step < len(node):
            node = node[step]
        elif isinstance(step, int) and isinstance(node, dict) and str(step) in node:
            node = node[str(step)]
        elif isinstance(step, str) and isinstance(node, dict) and step in node:
            node = node[step]
        else:
            return MISSING
    return node


__all__ = ["MISSING", "find", "parse"]
