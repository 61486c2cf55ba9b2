"""Process exit codes, in one place."""

from __future__ import annotations

from enum import IntEnum


class ExitStatus(IntEnum):
    OK = 0
    DRILL_FAILED = 1  # target missed, rollback or verification failed
    BAD_INPUT = 2  # unknown drill, malformed YAML, bad flag, malformed import file
    ENVIRONMENT = 3  # Docker unreachable, images impossible to build, store unreachable
    INTERRUPTED = 130  # Ctrl-C
