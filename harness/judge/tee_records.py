"""The tee's paired records, read by the harness through 127.0.0.1 and turned into ``paired.PairedRecord``s.

The tee (harness/serving/tee_proxy.py) knows nothing of models: it records bodies. The harness knows which
labelled example a request was (by the SHA-256 of its body) and how its target's answers read (the
``ServingProtocol``), so predictions and correctness are read here, for all three answers alike.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.judge.paired import Answer, PairedRecord
from harness.ports import Endpoint, Example, ServingProtocol


class TeeUnavailable(Exception):
    """The tee's records endpoint did not answer (the harness could not tell: an error, not a failed candidate)."""


def examples_by_digest(examples: Iterable[Example]) -> dict[str, Example]:
    return {hashlib.sha256(ex.body).hexdigest(): ex for ex in examples}


def _answer(raw: Mapping[str, Any] | None, protocol: ServingProtocol, example: Example | None) -> Answer | None:
    if raw is None or raw.get("status") is None:
        return None  # dropped: the tee's queue for that mirror was full
    status = int(raw["status"])
    latency = float(raw.get("latency_s") or 0.0)
    if not 200 <= status < 300:
        return Answer(status, latency)
    body = base64.b64decode(raw.get("body") or "")
    try:
        reading = protocol.read(example if example is not None else Example(b""), status, {}, body)
    except ValueError:
        return Answer(status, latency)
    correct = reading.correct if example is not None and example.expected is not None else None
    return Answer(status, latency, reading.prediction, correct)


def to_record(raw: Mapping[str, Any], protocol: ServingProtocol, examples: Mapping[str, Example]) -> PairedRecord:
    example = examples.get(str(raw.get("request_sha256", "")))
    stable = _answer(raw.get("stable"), protocol, example) or Answer(0, 0.0)
    return PairedRecord(float(raw.get("at", 0.0)), stable, _answer(raw.get("candidate"), protocol, example),
                        _answer(raw.get("secondary"), protocol, example))


@dataclass
class TeeReader:
    """Reads the records the tee completed since the last poll (``GET /records?since=N``)."""

    endpoint: Endpoint  # 127.0.0.1 and the published port: the harness never dials a container IP
    protocol: ServingProtocol
    examples: Mapping[str, Example]
    timeout: float = 5.0
    next_seq: int = 0
    mirrored: int = 0
    dropped: dict[str, int] = field(default_factory=dict)

    def poll(self) -> Sequence[PairedRecord]:
        records: list[PairedRecord] = []
        while True:
            page = self._get(f"/records?since={self.next_seq}")
            self.next_seq = int(page["next"])
            self.mirrored = int(page["mirrored"])
            self.dropped = {str(k): int(v) for k, v in page["dropped"].items()}
            records.extend(to_record(r, self.protocol, self.examples) for r in page["records"])
            if not page["records"]:
                return records

    def _get(self, path: str) -> dict[str, Any]:
        conn = http.client.HTTPConnection(self.endpoint.host, self.endpoint.port, timeout=self.timeout)
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            body = resp.read()
            if resp.status != 200:
                raise TeeUnavailable(f"tee records at {self.endpoint}: HTTP {resp.status}")
            page: dict[str, Any] = json.loads(body)
            return page
        except (OSError, http.client.HTTPException, ValueError) as exc:
            raise TeeUnavailable(f"tee records at {self.endpoint}: {exc}") from exc
        finally:
            conn.close()
