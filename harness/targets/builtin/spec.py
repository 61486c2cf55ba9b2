"""The ``target: {kind: builtin}`` block: the built-in demo stack (no fields of its own)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from harness.spec_types import TargetBlock


class BuiltinTargetSpec(TargetBlock):
    """The built-in demo stack (stdlib model server, file registry); the default."""

    kind: Literal["builtin"] = Field(default="builtin", description="the built-in demo stack")
