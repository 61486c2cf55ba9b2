"""A run a stop condition aborted, in report.md and report.html: the guard, what it saw, when, and the abort."""

from __future__ import annotations

from harness.engine.results import DrillResult, iso

HEADERS = ("abort command", "result", "duration", "last lines")


def summary(result: DrillResult) -> list[tuple[str, str]]:
    """(label, plain text) pairs; empty when no stop condition tripped."""
    trip = result.stopped_by
    if trip is None:
        return []
    return [("guard", f"{trip.name} ({trip.kind})"), ("it saw", trip.detail),
            ("breached at (UTC)", iso(trip.breached_at) or "—"),
            ("abort under way (UTC)", f"{iso(trip.abort_started_at)} ({trip.abort_latency_s:.3f} s after the breach)"),
            ("abort ended (UTC)", iso(trip.abort_ended_at) or "—"),
            ("abort", "every command exited 0" if trip.abort_ok else "a command FAILED: see below")]


def commands(result: DrillResult) -> list[tuple[str, str, str, str]]:
    """One row per abort command: argv, how it ended, its duration, its last lines."""
    trip = result.stopped_by
    if trip is None:
        return []
    return [(" ".join(c.argv), c.ended, f"{c.duration_s:.2f} s", " | ".join(c.last_lines[-3:]) or "—") for c in trip.abort_commands]
