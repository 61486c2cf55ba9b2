"""What a tripped stop condition leaves in the result: which guard, what it saw, when, and the abort that followed;
what one of a team's commands left (``CommandResult``), and the seam of a target that can abort (``Abortable``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True)
class CommandResult:
    """One of a team's commands as it ran: what, when, how it ended and its last lines (stdout and stderr merged)."""

    purpose: str  # deploy | promote | rollback | abort | ...
    argv: tuple[str, ...]
    started_at: datetime
    ended_at: datetime
    duration_s: float
    exit_code: int | None  # None: it never started, or was killed (timed_out / aborted)
    timed_out: bool = False
    aborted: bool = False
    last_lines: tuple[str, ...] = ()
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out and not self.aborted

    @property
    def ended(self) -> str:
        """How it ended: ``exit 0``, ``exit 3``, ``timed out``, ``killed by an abort``, or why it never ran."""
        return self.error or ("timed out" if self.timed_out else "killed by an abort" if self.aborted
                              else f"exit {self.exit_code}")

    def summary(self) -> str:
        how = self.ended
        tail = f"; last lines: {' | '.join(self.last_lines[-3:])}" if self.last_lines and not self.ok else ""
        return f"{self.purpose}: {' '.join(self.argv)}: {how} in {self.duration_s:.2f}s{tail}"


@runtime_checkable
class Abortable(Protocol):
    """A target with an emergency stop of its own (an external target: the team's ``abort:`` commands)."""

    def abort(self, reason: str) -> Sequence[CommandResult]:
        """Kill the moves still running, refuse the next ones, run the emergency rollback; what ran, in order."""


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
