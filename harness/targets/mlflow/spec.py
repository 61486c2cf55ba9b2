"""The ``target: {kind: mlflow}`` block of a drill: the drill's versions live in a real MLflow registry.

No MLflow import here: the catalogue loads this without the mlflow extra.
"""

from __future__ import annotations

from typing import Literal

from pydantic import ByteSize, Field

from harness.spec.types import TargetBlock

# The faults a pyfunc model version can carry (see drill_faulty_model.py); others need the built-in model.
SUPPORTED_FAULTS = ("none", "error_slice", "latency", "wrong_answers", "crash", "out_of_range")


class MlflowTargetSpec(TargetBlock):
    """An MLflow tracking/registry server per run, model versions logged to it, scoring servers loading them."""

    kind: Literal["mlflow"] = Field(default="mlflow", description="a real MLflow tracking/registry server per run")
    # The server's backend store: a SQLite file on the run's volume unless a database URL the server's container
    # can reach is given (postgresql://..., psycopg2). $DRILL_MLFLOW_BACKEND_STORE overrides both.
    backend_store: str | None = Field(default=None, min_length=1,
        description="the MLflow server's backend store: a database URL its container can reach (postgresql://..., psycopg2); unset: a SQLite "
                    "file on the run's volume; $DRILL_MLFLOW_BACKEND_STORE overrides both")
    artifact_size: ByteSize = Field(default=ByteSize(0), ge=0, le=8 << 30, description=(
        "each model version's weights artifact (weights.bin in its model directory, 200MB, 2GB), logged to the run's MLflow "
        "server; the scoring server downloads it through the server and verifies it (sha256) before it serves, so bringing a "
        "stopped version back costs a real load; 0: the small model only"))
