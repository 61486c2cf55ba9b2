"""Real MLflow model versions for a drill: two good scikit-learn versions and one bad pyfunc version.

Every version is a logistic regression trained on the harness's labelled synthetic data
(:mod:`harness.targets.builtin.model`), logged with its signature. The good versions use MLflow's ``sklearn`` flavor with
``predict_proba`` as the pyfunc method; the bad one (the drill's fault) is a ``pyfunc`` model whose code
travels inside its artifact (see :mod:`drill_faulty_model`). Each version carries a tag with the sha256 of
every artifact file, so a later check names the exact file that went missing or changed; with the drill's
``artifact_size`` its model directory also holds big weights (:mod:`harness.targets.mlflow.weights`).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import io
import json
import logging
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from harness.targets.builtin.model import FEATURES, make_examples
from harness.targets.mlflow.spec import SUPPORTED_FAULTS
from harness.targets.mlflow.weights import WEIGHTS_TAG

ARTIFACT_PATH = "model"
CHECKSUM_TAG = "drill.artifact_sha256"
FAULT_TAG = "drill.fault"
# Pinned requirements keep MLflow from importing the world to infer them (13 s a model here).
REQUIREMENTS = ["scikit-learn", "pandas", "numpy", "cloudpickle"]
_FAULTY_MODULE = "drill_faulty_model"
# (the version's model directory URI, a seed) -> (file name, size, sha256) of the weights logged into it
LogWeights = Callable[[str, int], tuple[str, int, str]]


@dataclass(frozen=True)
class LoggedVersion:
    version: str
    run_id: str
    accuracy: float
    fault: str | None


def training_frame(seed: int, n: int = 1200) -> tuple[Any, Any]:
    import pandas as pd

    examples = make_examples(n, seed)
    frame = pd.DataFrame([e.features for e in examples], columns=list(FEATURES)).astype("float64")
    return frame, [e.label for e in examples]


def train_estimator(seed: int) -> tuple[Any, float]:
    """A fitted LogisticRegression and its accuracy on a held-out sample of the same distribution."""
    from sklearn.linear_model import LogisticRegression

    x, y = training_frame(seed)
    estimator = LogisticRegression().fit(x, y)
    hx, hy = training_frame(seed + 10_000, 500)
    return estimator, float(estimator.score(hx, hy))


def faulty_module() -> ModuleType:
    """The faulty-model module under its top-level name, so the pickled class refers to ``drill_faulty_model``
    (importable from the artifact's code directory wherever the version is loaded), not to this package."""
    if _FAULTY_MODULE in sys.modules:
        return sys.modules[_FAULTY_MODULE]
    path = Path(__file__).with_name(f"{_FAULTY_MODULE}.py")
    spec = importlib.util.spec_from_file_location(_FAULTY_MODULE, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[_FAULTY_MODULE] = module
    spec.loader.exec_module(module)
    return module


def checksums(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def save_model(path: Path, estimator: Any, fault: dict[str, Any] | None) -> None:
    """Save one version locally: sklearn flavor when good, pyfunc with the fault when bad."""
    import mlflow.pyfunc
    import mlflow.sklearn
    from mlflow.models import infer_signature

    x, _ = training_frame(seed=99, n=20)
    signature = infer_signature(x, estimator.predict_proba(x))
    if not fault or fault.get("kind", "none") == "none":
        # cloudpickle, MLflow 2's default: MLflow 3 defaults to skops, which the client extra does not carry.
        mlflow.sklearn.save_model(estimator, str(path), signature=signature, pip_requirements=REQUIREMENTS,
                                  pyfunc_predict_fn="predict_proba",
                                  serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_CLOUDPICKLE)
        return
    module = faulty_module()
    crash = fault.get("kind") == "crash"
    mlflow.pyfunc.save_model(str(path), python_model=module.FaultyModel(estimator, fault, armed=not crash),
                             signature=signature, code_paths=[str(Path(module.__file__ or ""))],
                             pip_requirements=REQUIREMENTS)
    if crash:  # the stored model fails to load, as a bad build does; saving it had to load it once
        import cloudpickle

        (path / "python_model.pkl").write_bytes(cloudpickle.dumps(module.FaultyModel(estimator, fault)))


@contextmanager
def tracking(uri: str | None) -> Iterator[None]:
    """MLflow resolves ``mlflow-artifacts:`` URIs against the process-wide tracking URI, whatever the client's;
    this points it at ``uri`` for the duration (MLflow's own scoping helper; one drill per process)."""
    if uri is None:
        yield
        return
    from mlflow.tracking._tracking_service.utils import _use_tracking_uri

    with _use_tracking_uri(uri):
        yield


def log_version(client: Any, model: str, seed: int, fault: dict[str, Any] | None = None,
                experiment: str = "drill", tracking_uri: str | None = None,
                weights: LogWeights | None = None) -> LoggedVersion:
    """Train, log as a run's artifact (with ``weights`` logged into it), register as a new version of ``model``
    with its checksums."""
    from mlflow.exceptions import MlflowException

    estimator, accuracy = train_estimator(seed)
    found = client.get_experiment_by_name(experiment)
    experiment_id = found.experiment_id if found is not None else client.create_experiment(experiment)
    run = client.create_run(experiment_id, run_name=f"{model}-seed{seed}")
    with tempfile.TemporaryDirectory(prefix="drill-mlflow-model-") as tmp:
        local = Path(tmp) / ARTIFACT_PATH
        save_model(local, estimator, fault)
        sums = checksums(local)
        with tracking(tracking_uri):
            client.log_artifacts(run.info.run_id, str(local), ARTIFACT_PATH)
    model_uri = f"{run.info.artifact_uri}/{ARTIFACT_PATH}"
    tags: dict[str, str] = {}
    if weights is not None:
        name, size, digest = weights(model_uri, seed)
        sums[name] = digest
        tags[WEIGHTS_TAG] = json.dumps({"file": name, "size": size}, sort_keys=True)
    client.log_metric(run.info.run_id, "holdout_accuracy", accuracy)
    client.set_terminated(run.info.run_id)
    try:
        client.create_registered_model(model)
    except MlflowException as exc:
        if "RESOURCE_ALREADY_EXISTS" not in str(exc.error_code):
            raise
    kind = (fault or {}).get("kind", "none")
    tags.update({CHECKSUM_TAG: json.dumps(sums, sort_keys=True), "holdout_accuracy": f"{accuracy:.4f}"})
    if kind != "none":
        tags[FAULT_TAG] = kind
    mv = client.create_model_version(model, model_uri, run_id=run.info.run_id, tags=tags)
    return LoggedVersion(str(mv.version), run.info.run_id, accuracy, None if kind == "none" else kind)


def seed_versions(registry: Any, fault: dict[str, Any], weights: LogWeights | None = None,
                  ) -> tuple[LoggedVersion, LoggedVersion, LoggedVersion]:
    """Register v1 and v2 (good) and v3 (the drill's fault) of ``registry.model``, each with ``weights`` if given;
    v1 then v2 deployed as champion.

    ``registry`` is a :class:`harness.targets.mlflow.registry.MlflowRegistry` (its client and history)."""
    kind = fault.get("kind", "none")
    if kind not in SUPPORTED_FAULTS:
        raise ValueError(f"fault {kind!r} is not supported by MLflow model versions; supported: "
                         f"{', '.join(SUPPORTED_FAULTS)}")
    uri = registry.tracking_uri
    with quiet():
        v1 = log_version(registry.client, registry.model, seed=1, tracking_uri=uri, weights=weights)
        v2 = log_version(registry.client, registry.model, seed=2, tracking_uri=uri, weights=weights)
        v3 = log_version(registry.client, registry.model, seed=3, fault=fault, tracking_uri=uri, weights=weights)
    registry.promote(v1.version, "seed")
    registry.promote(v2.version, "seed")
    return v1, v2, v3


@contextmanager
def quiet() -> Iterator[None]:
    """MLflow writes run links to stdout (where `drill run --json` prints its result), logs at INFO and warns
    about type hints; none of it is the drill's output."""
    import mlflow.pyfunc  # noqa: F401  (first: importing it installs warning filters of its own)

    logger = logging.getLogger("mlflow")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)
