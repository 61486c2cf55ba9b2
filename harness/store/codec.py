"""The JSONL event format: parsing with file/line/field errors, and writing it back.

One JSON object a line::

    {"type":"deployment","model":"fraud","version":"7","deployed_at":"2026-10-01T10:00:00Z",
     "environment":"production"}
    {"type":"rollback","model":"fraud","from_version":"7","to_version":"6",
     "decided_at":"2026-10-01T12:00:00Z","completed_at":"2026-10-01T12:09:00Z",
     "trigger":"automated","root_cause":"performance","planned":false,"rca_url":null,
     "environment":"production","cause_keys":["schema-drift:customer_age"]}

Reading validates every line before anything is written and reports *all* bad lines at
once (up to a cap), so an import is all-or-nothing and a user fixes a file in one pass.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any, TextIO

from harness.errors import SpecError, SpecIssue
from harness.store.causes import check_cause_keys
from harness.store.records import (
    PRODUCTION,
    Deployment,
    DrillRunRecord,
    Event,
    Rollback,
    RootCause,
    RunStatus,
    Trigger,
)
from harness.store.run_codec import drill_run_from_json
from harness.store.text import plain

ImportEvent = Event | DrillRunRecord  # what an import file holds; `drill export` writes Events only

MAX_ISSUES = 50
# Instants outside these years are typing mistakes (year 1, 9999) that later overflow date arithmetic
# (quarters, rollback windows), so they are refused at the edge.
MIN_YEAR, MAX_YEAR = 1970, 2999

_DEPLOYMENT_FIELDS = {"type", "model", "version", "deployed_at", "environment"}
_ROLLBACK_FIELDS = {
    "type",
    "model",
    "from_version",
    "to_version",
    "decided_at",
    "completed_at",
    "trigger",
    "root_cause",
    "planned",
    "rca_url",
    "environment",
    "cause_keys",
}


def parse_timestamp(text: str) -> datetime:
    """An ISO-8601 timestamp with a UTC offset ('Z' or +hh:mm), returned in UTC.

    Raises ValueError for anything else, naive timestamps included: a time without an
    offset names no instant, and guessing would shift every figure by hours.
    """
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"not an ISO-8601 timestamp: {text!r}") from None
    if value.tzinfo is None:
        raise ValueError(f"timestamp needs a UTC offset ('Z' or +hh:mm): {text!r}")
    try:
        value = value.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"timestamp out of range: {text!r}") from None
    return _in_range(value, text)


def _in_range(value: datetime, text: str) -> datetime:
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise ValueError(f"year {value.year} out of range ({MIN_YEAR}-{MAX_YEAR}): {text!r}")
    return value


def parse_date_or_timestamp(text: str) -> datetime:
    """A bare date (YYYY-MM-DD, read as 00:00 UTC) or a timestamp with an offset."""
    stripped = text.strip()
    if len(stripped) == 10:
        try:
            day = datetime.combine(date.fromisoformat(stripped), time(), tzinfo=UTC)
        except ValueError:
            pass
        else:
            return _in_range(day, text)
    return parse_timestamp(stripped)


def format_timestamp(value: datetime) -> str:
    """UTC, 'Z'-suffixed, microseconds only when present: 2026-10-01T10:00:00Z."""
    text = value.astimezone(UTC).replace(tzinfo=None).isoformat()
    return text + "Z"


class LineParser:
    """Collects the issues of one line; each accessor records a problem and returns None."""

    def __init__(self, obj: dict[str, Any], file: str, line: int | None) -> None:
        self.obj, self.file, self.line = obj, file, line
        self.issues: list[SpecIssue] = []

    def issue(self, fieldname: str, message: str) -> None:
        self.issues.append(SpecIssue(self.file, fieldname, message, self.line))

    def text(self, name: str, default: str | None = None, *, nullable: bool = False) -> str | None:
        if name not in self.obj or (self.obj[name] is None and nullable):
            if default is None and not nullable:
                self.issue(name, "is required")
            return default
        value = self.obj[name]
        # Versions are often written as bare numbers; accept ints losslessly, nothing else.
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or not value.strip():
            self.issue(name, f"must be a non-empty string, got {json.dumps(value)}")
            return None
        try:
            return plain(value)
        except ValueError as exc:
            self.issue(name, str(exc))
            return None

    def timestamp(self, name: str) -> datetime | None:
        raw = self.text(name)
        if raw is None:
            return None
        try:
            return parse_timestamp(raw)
        except ValueError as exc:
            self.issue(name, str(exc))
            return None

    def choice(self, name: str, enum: type[Trigger] | type[RootCause] | type[RunStatus]) -> Any:
        raw = self.text(name)
        if raw is None:
            return None
        try:
            return enum(raw)
        except ValueError:
            allowed = ", ".join(member.value for member in enum)
            self.issue(name, f"must be one of {allowed}, got {raw!r}")
            return None

    def flag(self, name: str) -> bool:
        value = self.obj.get(name, False)
        if not isinstance(value, bool):
            self.issue(name, f"must be true or false, got {json.dumps(value)}")
            return False
        return value

    def cause_keys(self, name: str) -> tuple[str, ...]:
        """A list of cause keys (see `causes`); absent or null is none."""
        value = self.obj.get(name)
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            self.issue(name, f"must be a list of strings, got {json.dumps(value)}")
            return ()
        try:
            return check_cause_keys(value)
        except ValueError as exc:
            self.issue(name, str(exc))
            return ()

    def unknown(self, allowed: set[str]) -> None:
        for name in sorted(set(self.obj) - allowed):
            self.issue(name, "unknown field")


def line_from_json(obj: Any, file: str = "<input>", line: int | None = None) -> ImportEvent:
    """One line of an import file: a drill run, or what `event_from_json` reads."""
    if isinstance(obj, dict) and obj.get("type") == "drill_run":
        return drill_run_from_json(LineParser(obj, file, line))
    return event_from_json(obj, file, line)


def event_from_json(obj: Any, file: str = "<input>", line: int | None = None) -> Event:
    """One decoded JSON object to a Deployment or Rollback; SpecError lists every problem."""
    if not isinstance(obj, dict):
        raise SpecError(SpecIssue(file, "-", "each line must be a JSON object", line))
    p = LineParser(obj, file, line)
    kind = obj.get("type")
    if kind == "deployment":
        p.unknown(_DEPLOYMENT_FIELDS)
        model, version = p.text("model"), p.text("version")
        deployed_at = p.timestamp("deployed_at")
        environment = p.text("environment", PRODUCTION)
        if p.issues:
            raise SpecError(p.issues)
        assert model and version and deployed_at and environment
        return Deployment(model, version, deployed_at, environment)
    if kind == "rollback":
        p.unknown(_ROLLBACK_FIELDS)
        model, from_v, to_v = p.text("model"), p.text("from_version"), p.text("to_version")
        decided_at, completed_at = p.timestamp("decided_at"), p.timestamp("completed_at")
        trigger, root_cause = p.choice("trigger", Trigger), p.choice("root_cause", RootCause)
        planned = p.flag("planned")
        rca_url = p.text("rca_url", nullable=True)
        environment = p.text("environment", PRODUCTION)
        cause_keys = p.cause_keys("cause_keys")
        if decided_at and completed_at and completed_at < decided_at:
            p.issue("completed_at", "is before decided_at")
        if p.issues:
            raise SpecError(p.issues)
        assert model and from_v and to_v and decided_at and completed_at and environment
        return Rollback(
            model, from_v, to_v, decided_at, completed_at, trigger, root_cause, planned, rca_url,
            environment, cause_keys,
        )
    raise SpecError(SpecIssue(
        file, "type", f"must be 'deployment', 'rollback' or 'drill_run', got {json.dumps(kind)}", line))


def parse_lines(lines: Iterable[str], file: str) -> list[ImportEvent]:
    """Every event of a JSONL stream, or a SpecError naming each bad line and field."""
    events: list[ImportEvent] = []
    issues: list[SpecIssue] = []
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            events.append(line_from_json(json.loads(raw), file, number))
        except json.JSONDecodeError as exc:
            issues.append(SpecIssue(file, "-", f"not valid JSON: {exc.msg}", number))
        except RecursionError:
            issues.append(SpecIssue(file, "-", "not an event: nested too deeply", number))
        except SpecError as exc:
            issues.extend(exc.issues)
        if len(issues) >= MAX_ISSUES:
            issues.append(SpecIssue(file, "-", f"stopped after {MAX_ISSUES} problems", number))
            break
    if issues:
        raise SpecError(issues)
    return events


def read_jsonl(path: Path) -> list[ImportEvent]:
    """Parse a whole JSONL file; a missing or unreadable file is bad input too."""
    try:
        with path.open(encoding="utf-8") as handle:
            return parse_lines(handle, str(path))
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(SpecIssue(str(path), "-", f"cannot read: {exc}")) from None


def event_to_json(event: Event) -> dict[str, Any]:
    """The JSONL object for one event, keys in the documented order."""
    if isinstance(event, Deployment):
        return {
            "type": "deployment",
            "model": event.model,
            "version": event.version,
            "deployed_at": format_timestamp(event.deployed_at),
            "environment": event.environment,
        }
    obj: dict[str, Any] = {
        "type": "rollback",
        "model": event.model,
        "from_version": event.from_version,
        "to_version": event.to_version,
        "decided_at": format_timestamp(event.decided_at),
        "completed_at": format_timestamp(event.completed_at),
        "trigger": event.trigger.value,
        "root_cause": event.root_cause.value,
        "planned": event.planned,
        "rca_url": event.rca_url,
        "environment": event.environment,
    }
    if event.cause_keys:  # written only where there are some: files from before cause keys stay byte-identical
        obj["cause_keys"] = list(event.cause_keys)
    return obj


def write_jsonl(events: Iterable[Event], out: TextIO) -> int:
    """Write events one a line; returns how many."""
    count = 0
    for event in events:
        out.write(json.dumps(event_to_json(event), separators=(",", ":")) + "\n")
        count += 1
    return count

