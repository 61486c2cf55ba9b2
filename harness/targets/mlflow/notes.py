"""Release notes into MLflow: the rollback history written as a model version's description."""

from __future__ import annotations

from harness.errors import BackendUnavailable
from harness.targets.builtin.registry import RegistryError
from harness.targets.mlflow.registry import mlflow_errors

MAX_DESCRIPTION = 5000  # MLflow's model version description column holds at most 5000 characters


def write_description(tracking_uri: str, model: str, version: str, text: str) -> None:
    """Replace ``model`` version ``version``'s description with ``text`` (cut to what MLflow stores).

    An unreachable server or a missing version is an environment problem (BackendUnavailable, exit 3)."""
    from mlflow import MlflowClient

    body = text if len(text) <= MAX_DESCRIPTION else text[:MAX_DESCRIPTION - 20] + "\n\n(truncated)\n"
    try:
        with mlflow_errors(f"write release notes into models:/{model}/{version}"):
            client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
            client.update_model_version(model, version, description=body)
    except RegistryError as exc:
        raise BackendUnavailable(str(exc)) from None
