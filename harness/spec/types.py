"""The building blocks every spec model uses: the strict base model, durations ("250ms", "5s", "15m"), names.

Apart from ``harness.spec.models`` so that a target's own spec module (``harness.targets.image.spec``) can build
on them while ``harness.spec.models`` puts that target's block into ``DrillSpec``.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}
# Names end up in paths (reports/<run-id>/, the registry) and in reports: one plain word each.
IDENTIFIER = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"

# Shared by the target blocks that take them (image, compose): an absolute URL path, a memory size such as 512m.
URL_PATH = re.compile(r"^/[^\s]*$")
MEMORY_SIZE = re.compile(r"^\d+[kmg]?$", re.IGNORECASE)


def parse_duration(value: Any) -> float:
    """'250ms', '5s', '15m', '1h' or a number of seconds -> seconds."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 5s, 250ms or 15m")
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValueError(f"expected a duration such as 5s, 250ms or 15m, got {value!r}")
        seconds = float(match.group(1)) * _UNIT[match.group(2)]
    if not math.isfinite(seconds):
        raise ValueError(f"expected a finite duration, got {value!r}")
    return seconds


_DAYS = re.compile(r"^\s*(\d+)\s*(d|w)?\s*$")


def parse_days(value: Any) -> int:
    """'90d', '13w' or a whole number of days -> days (a runbook's ``freshness:``)."""
    if isinstance(value, bool):
        raise ValueError("expected a number of days such as 90d or 13w")
    if isinstance(value, int):
        return value
    match = _DAYS.match(str(value))
    if not match:
        raise ValueError(f"expected a number of days such as 90d or 13w, got {value!r}")
    return int(match.group(1)) * (7 if match.group(2) == "w" else 1)


Duration = Annotated[float, BeforeValidator(parse_duration), Field(ge=0)]
Days = Annotated[int, BeforeValidator(parse_days), Field(ge=1, le=3650)]
PositiveDuration = Annotated[float, BeforeValidator(parse_duration), Field(gt=0)]  # where zero makes no sense
Name = Annotated[str, Field(pattern=IDENTIFIER)]


class Strict(BaseModel):
    # allow_inf_nan=False: `.inf` or `.nan` in a threshold would slip past every comparison and write invalid JSON.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class TargetBlock(Strict):
    """A drill's ``target:`` block. Each target kind subclasses it with ``kind: Literal[...]`` and its own
    fields, and registers the subclass in its :class:`harness.targets.TargetKind` record."""

    kind: str = Field(default="builtin", description="a registered target kind: builtin, image, mlflow, or one a plugin registers")

    def hosts(self) -> list[tuple[str, str]]:
        """(field, host) of every address the harness itself reaches for this target beyond the ones it starts."""
        return []

    def answers_promql(self) -> bool:
        """Whether the target's metrics source can answer PromQL (a stack drill starts has its own Prometheus)."""
        return True

    def blind_to(self, measure: str) -> str | None:
        """Why a client-side check of ``measure`` could never see anything on this target (None: it can)."""
        return None

    def templated(self) -> list[tuple[tuple[str | int, ...], Any]]:
        """(field below ``target``, value) of every field the run fills ``${NAME}`` into from its variables (the
        team's commands): a name neither a built-in, ``run_variables`` nor ``--var`` sets is bad input at start."""
        return []

    def run_variables(self) -> frozenset[str]:
        """The variables this target sets for its own fields beyond the run's built-ins (``--var`` may not set them)."""
        return frozenset()

    def service_problem(self, service: str) -> str | None:
        """Why an adversity ``service-*`` fault cannot strike the named service here (None: it can, or the target
        cannot tell before it starts). Only a target running a team's Compose project has named services."""
        return (f"service-* adversity strikes a service of a team's Compose project (target kind compose); "
                f"target {self.kind!r} has none named {service!r}")


class FieldError(ValueError):
    """A model validator's error that belongs to one field (``loc`` below the model): the file:line of the
    error is that field's (``harness.spec.models.validation_issues``), not the model's first line."""

    def __init__(self, loc: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.loc = loc


ISSUES_KEY = "issues"  # validation context: problems found in other files (a request file) while validating
