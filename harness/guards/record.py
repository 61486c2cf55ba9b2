"""What a tripped stop condition leaves in the result: which guard, what it saw, when, and the abort that followed."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from harness.ports import CommandResult


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


@dataclass(frozen=True)
class GuardTrip:
    name: str
    kind: str  # promql | error_budget | http
    detail: str  # what the last look saw ("error rate 31.0% > 5.0% over 212 requests")
    value: float | None
    breached_at: datetime  # the look that tripped it ended
    abort_started_at: datetime  # the drill's moves killed, its traffic stopping, the abort commands starting
    abort_ended_at: datetime  # the abort commands ended
    abort_commands: tuple[CommandResult, ...] = ()

    @property
    def reason(self) -> str:
        return f"guard {self.name}: {self.detail}"

    @property
    def abort_latency_s(self) -> float:
        """Breach -> abort under way (the standard: within 1 s)."""
        return round((self.abort_started_at - self.breached_at).total_seconds(), 3)

    @property
    def abort_ok(self) -> bool:
        return all(c.ok for c in self.abort_commands)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "detail": self.detail, "value": self.value,
                "breached_at": _iso(self.breached_at), "abort_started_at": _iso(self.abort_started_at),
                "abort_ended_at": _iso(self.abort_ended_at), "abort_latency_s": self.abort_latency_s,
                "abort_ok": self.abort_ok,
                "abort_commands": [{**asdict(c), "started_at": _iso(c.started_at), "ended_at": _iso(c.ended_at),
                                    "ok": c.ok} for c in self.abort_commands]}
