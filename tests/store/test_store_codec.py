"""JSONL parsing and writing: timestamps with offsets, every problem named by line and field."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import pytest

from harness.errors import SpecError
from harness.store import (
    Deployment,
    Rollback,
    RootCause,
    Trigger,
    event_from_json,
    format_timestamp,
    parse_date_or_timestamp,
    parse_timestamp,
    write_jsonl,
)
from harness.store.codec import parse_lines

DEPLOY = ('{"type":"deployment","model":"fraud","version":"7",'
          '"deployed_at":"2026-10-01T10:00:00Z","environment":"production"}')
ROLLBACK = ('{"type":"rollback","model":"fraud","from_version":"7","to_version":"6",'
            '"decided_at":"2026-10-01T12:00:00Z","completed_at":"2026-10-01T12:09:00Z",'
            '"trigger":"automated","root_cause":"performance","planned":false,'
            '"rca_url":"https://rca/1","environment":"production"}')


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-10-01T10:00:00Z", datetime(2026, 10, 1, 10, tzinfo=UTC)),
    ("2026-10-01T12:00:00+02:00", datetime(2026, 10, 1, 10, tzinfo=UTC)),
    ("2026-10-01T05:30:00-04:30", datetime(2026, 10, 1, 10, tzinfo=UTC)),
    ("2026-10-01T10:00:00.250+00:00", datetime(2026, 10, 1, 10, 0, 0, 250000, tzinfo=UTC)),
])
def test_parse_timestamp_normalises_to_utc(text: str, expected: datetime) -> None:
    parsed = parse_timestamp(text)
    assert parsed == expected and parsed.tzinfo == UTC


@pytest.mark.parametrize("text", ["2026-10-01T10:00:00", "yesterday", "2026-13-01T00:00:00Z", ""])
def test_parse_timestamp_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        parse_timestamp(text)


def test_dates_for_ranges() -> None:
    assert parse_date_or_timestamp("2026-10-01") == datetime(2026, 10, 1, tzinfo=UTC)
    assert parse_date_or_timestamp("2026-10-01T00:00:00+01:00") == datetime(
        2026, 9, 30, 23, tzinfo=UTC)
    with pytest.raises(ValueError):
        parse_date_or_timestamp("2026-10-01T00:00:00")


def test_format_timestamp() -> None:
    assert format_timestamp(parse_timestamp("2026-10-01T12:00:00+02:00")) == "2026-10-01T10:00:00Z"
    assert format_timestamp(parse_timestamp("2026-10-01T10:00:00.5Z")) == "2026-10-01T10:00:00.500000Z"


def test_documented_lines_parse() -> None:
    d, r = parse_lines([DEPLOY, "", ROLLBACK], "f.jsonl")
    assert d == Deployment("fraud", "7", parse_timestamp("2026-10-01T10:00:00Z"))
    assert isinstance(r, Rollback)
    assert (r.trigger, r.root_cause, r.planned, r.rca_url) == (
        Trigger.AUTOMATED, RootCause.PERFORMANCE, False, "https://rca/1")


def test_defaults() -> None:
    r = event_from_json({"type": "rollback", "model": "m", "from_version": 2, "to_version": "1",
                         "decided_at": "2026-10-01T12:00:00Z", "completed_at": "2026-10-01T12:01:00Z",
                         "trigger": "manual", "root_cause": "upstream-data"})
    assert isinstance(r, Rollback)
    assert (r.environment, r.planned, r.rca_url, r.from_version) == ("production", False, None, "2")


def test_write_then_parse_round_trips() -> None:
    events = parse_lines([DEPLOY, ROLLBACK], "f.jsonl")
    out = io.StringIO()
    assert write_jsonl(events, out) == 2
    lines = out.getvalue().splitlines()
    assert [json.loads(line) for line in lines] == [json.loads(DEPLOY), json.loads(ROLLBACK)]
    assert parse_lines(lines, "again") == events


def test_every_problem_is_named_with_line_and_field() -> None:
    bad_rollback = json.loads(ROLLBACK) | {"trigger": "robot", "root_cause": "gremlins",
                                           "decided_at": "2026-10-01T12:00:00", "planned": "no"}
    lines = [DEPLOY, "{not json", json.dumps(bad_rollback),
             json.dumps({"type": "deployment", "model": "", "deployedAt": "x"}),
             json.dumps({"type": "canary"}), "[1]"]
    with pytest.raises(SpecError) as info:
        parse_lines(lines, "events.jsonl")
    found = {(i.line, i.field) for i in info.value.issues}
    assert found == {
        (2, "-"),
        (3, "trigger"), (3, "root_cause"), (3, "decided_at"), (3, "planned"),
        (4, "model"), (4, "version"), (4, "deployed_at"), (4, "deployedAt"),
        (5, "type"),
        (6, "-"),
    }
    assert all(i.file == "events.jsonl" for i in info.value.issues)
    assert "events.jsonl:3: trigger: must be one of automated, manual" in str(info.value)


def test_completed_before_decided_is_refused() -> None:
    bad = json.loads(ROLLBACK) | {"completed_at": "2026-10-01T11:59:59Z"}
    with pytest.raises(SpecError, match="completed_at: is before decided_at"):
        parse_lines([json.dumps(bad)], "f")
