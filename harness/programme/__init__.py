"""Drills as a programme (issue 20): runbook freshness, GameDays, post-mortems and release notes.

Library code only; the commands in the CLI are thin over these modules:
`hashing` (a runbook's content hash), `freshness` (`drill status`), `gameday_plan` (a plan and its answers,
validated), `gameday` (running one), `release_notes` (a model's rollback history).
"""
