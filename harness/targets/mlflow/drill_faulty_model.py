"""A pyfunc model that wraps a fitted scikit-learn classifier and misbehaves on purpose.

This module is shipped INSIDE the bad model version's artifact (MLflow ``code_paths``), under the
top-level name ``drill_faulty_model``, so whoever loads the version (the scoring server in a container,
``check_deployable`` on the host) imports it from the artifact itself: no harness install needed.
Standard library, numpy and pandas only. Output has the shape of sklearn's ``predict_proba``
(one row per input, columns P(0), P(1)), like the good versions logged with ``predict_proba``.
A fault with ``after`` (seconds) strikes only that long after the model loaded (a regression that shows late).
"""

from __future__ import annotations

import time
from typing import Any

import mlflow.pyfunc
import numpy as np


class ModelFault(Exception):
    """The deliberate failure of a bad version (a scoring server answers 500)."""


class FaultyModel(mlflow.pyfunc.PythonModel):  # type: ignore[misc,name-defined]
    # The signature logged with the model validates inputs; MLflow's type-hint validation is not wanted.
    _skip_type_hint_validation = True

    def __init__(self, estimator: Any, fault: dict[str, Any], armed: bool = True) -> None:
        self.estimator = estimator
        self.fault = dict(fault)
        # MLflow loads a pyfunc model once while saving it; a crash fault is armed only in the stored artifact.
        self.armed = armed

    def load_context(self, context: Any) -> None:
        if self.fault.get("kind") == "crash" and self.armed:
            raise ModelFault(str(self.fault.get("message") or "model failed to initialise"))
        self.fault_from = time.monotonic() + float(self.fault.get("after") or 0.0)

    def predict(self, context: Any, model_input: Any, params: dict[str, Any] | None = None) -> Any:
        kind = self.fault.get("kind") if time.monotonic() >= getattr(self, "fault_from", 0.0) else "none"
        if kind == "error_slice":
            column = model_input[self.fault["feature"]].astype(float)
            if bool((column > float(self.fault["above"])).any()):
                raise ModelFault("internal model error")
        if kind == "latency":
            time.sleep(float(self.fault["ms"]) / 1000.0)
        proba = np.asarray(self.estimator.predict_proba(model_input), dtype=float)
        if kind == "wrong_answers":
            proba = proba[:, ::-1]
        if kind == "out_of_range":
            proba = proba * float(self.fault.get("scale") or 3.0)
        return proba
