"""The harness's exception tree. One root, bad input kept apart from runtime failures.

    DrillError
    ├── SpecError            bad input: a drill/runbook/import file or a flag (exit 2); nothing started
    ├── BackendUnavailable   the environment cannot do it: Docker unreachable, images impossible (exit 3)
    │   └── RunNotKept       the drill ran, but its teardown failed or its store row was not written (exit 3)
    └── StepFailed           a runbook step failed at runtime; recorded in the result, not raised past the engine
        └── VerificationFailed  a verification judged the rollback wanting: a finding, never retried
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class DrillError(Exception):
    """Root of every error the harness raises on purpose."""


@dataclass(frozen=True)
class SpecIssue:
    """One problem found in an input file: where it is and what is wrong."""

    file: str
    field: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.field}: {self.message}"


class SpecError(DrillError):
    """Bad input. Carries every issue found, so a user fixes them all in one pass."""

    def __init__(self, issues: list[SpecIssue] | SpecIssue | str) -> None:
        if isinstance(issues, str):
            issues = [SpecIssue(file="<input>", field="-", message=issues)]
        elif isinstance(issues, SpecIssue):
            issues = [issues]
        self.issues: list[SpecIssue] = list(issues)
        super().__init__("\n".join(str(i) for i in self.issues))


class BackendUnavailable(DrillError):
    """The environment cannot provide what the drill needs (Docker, images, a database).

    Raised past the engine after the run was recorded; ``result`` then holds that (error) result."""

    result: Any = None


class RunNotKept(BackendUnavailable):
    """The drill ran to its end, but a teardown step raised or the store did not take its row (``result`` says
    which: its reason, ``recorded``). Raised past the engine after the reports were written."""


class StepFailed(DrillError):
    """A runbook step failed; the engine records it in the result."""


class VerificationFailed(StepFailed):
    """A verification decided against the rollback (or could not decide by its deadline). A finding: retrying
    it would re-roll the test until chance lets it pass, so the retry policy never does."""
