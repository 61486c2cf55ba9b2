"""The serving protocol of a team's server, from the drill's ``target`` block.

Requests come from the team's JSONL file (``{"body": ..., "expect": ...}`` a line); an answer's version
is read from a header or a (dotted) JSON field, or left to the router (``x-drill-backend``); its
prediction from ``prediction_field`` (a dotted JSON path), compared with ``expect`` where the line has one.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from harness.ports import Example, Reading
from harness.targets.image.spec import RequestLine, RequestSpec, VersionReadSpec, load_requests

MISSING = object()


def dotted(data: Any, path: str) -> Any:
    """``result.diagnosis`` in ``{"result": {"diagnosis": ...}}``; list indices are numbers (``items.0``), and a
    name picks the list's element whose ``name`` it is (an Open Inference Protocol answer's output by name:
    ``outputs.predict.data.0``). A missing step gives ``MISSING``."""
    node = data
    for part in path.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.lstrip("-").isdigit() and -len(node) <= int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, list) and (named := [x for x in node if isinstance(x, dict) and x.get("name") == part]):
            node = named[0]
        else:
            return MISSING
    return node


class AnswerFormat(Protocol):
    """What the protocol reads off a target block (an image's, an external stack's, a Compose project's)."""

    @property
    def request(self) -> RequestSpec: ...

    @property
    def predict_path(self) -> str: ...

    @property
    def routed_path(self) -> str: ...

    @property
    def version(self) -> VersionReadSpec: ...

    @property
    def prediction_field(self) -> str | None: ...


class JsonlProtocol:
    """``ports.ServingProtocol`` over the team's request file and answer format."""

    def __init__(self, spec: AnswerFormat, lines: Sequence[RequestLine] | None = None) -> None:
        self.method: str = spec.request.method
        self.path: str = spec.routed_path  # a version served under another path is reached through a path proxy
        self.headers: Mapping[str, str] = dict(spec.request.headers)
        self.version_header = spec.version.header.lower() if spec.version.header else None
        self.version_field = spec.version.json_field
        self.prediction_field = spec.prediction_field
        self.lines = list(lines) if lines is not None else load_requests(spec.request.source)

    def examples(self, n: int, seed: int) -> Sequence[Example]:
        """N requests drawn from the file (with replacement, reproducibly by seed)."""
        rng = random.Random(seed)
        chosen = [self.lines[rng.randrange(len(self.lines))] for _ in range(n)]
        return [Example(line.body, line.expect, line.protected, {"line": line.line}) for line in chosen]

    def read(self, example: Example, status: int, headers: Mapping[str, str], body: bytes) -> Reading:
        version = headers.get(self.version_header) if self.version_header else None
        if not 200 <= status < 300:
            return Reading(version)
        needs_json = self.version_field is not None or self.prediction_field is not None
        answer: Any = None
        if needs_json:
            try:
                answer = json.loads(body)
            except ValueError:
                # A 2xx that is not JSON answered nothing usable: wrong where an answer was expected.
                return Reading(version, None, None, False if example.expected is not None else None)
        if self.version_field is not None:
            found = dotted(answer, self.version_field)
            version = None if found is MISSING or found is None else str(found)
        if self.prediction_field is None:
            return Reading(version)
        prediction = dotted(answer, self.prediction_field)
        if prediction is MISSING:
            prediction = None
        correct = None if example.expected is None else prediction == example.expected
        return Reading(version, prediction, None, correct)
