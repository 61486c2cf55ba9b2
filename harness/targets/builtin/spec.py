"""The ``target: {kind: builtin}`` block: the built-in demo stack, and the size of its versions' weights."""

from __future__ import annotations

from typing import Literal

from pydantic import ByteSize, Field

from harness.spec.types import TargetBlock


class BuiltinTargetSpec(TargetBlock):
    """The built-in demo stack (stdlib model server, file registry); the default."""

    kind: Literal["builtin"] = Field(default="builtin", description="the built-in demo stack")
    artifact_size: ByteSize = Field(default=ByteSize(0), ge=0, le=8 << 30, description=(
        "each version's weights file on the registry volume (200MB, 2GB), read and verified (sha256) by the model "
        "server before it serves, so bringing a stopped version back costs a real load; 0: the small artifact only"))
