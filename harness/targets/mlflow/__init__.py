"""The MLflow target: a real MLflow tracking/registry server in the run's stack, real model versions
(scikit-learn / pyfunc, logged with signatures), and the registry adapter behind ``ports.ModelRegistry``.

Needs the ``mlflow`` extra on the host (``pip install 'drill-harness[mlflow]'``); modules here import
MLflow lazily so the core install never needs it. ``KIND`` is its registration.
"""

from __future__ import annotations

from harness.targets.mlflow.spec import SUPPORTED_FAULTS, MlflowTargetSpec
from harness.targets.registry import TargetKind

KIND = TargetKind(
    kind="mlflow", spec=MlflowTargetSpec, factory="harness.targets.mlflow.target:create",
    description="model versions in a real MLflow registry, served by MLflow's pyfunc",
    backends=frozenset({"docker"}), faults=frozenset(SUPPORTED_FAULTS),
    fault_hint="an MLflow model version carries its own fault (inject: true is for target kind image)",
    late_faults=True,
)
