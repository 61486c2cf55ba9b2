"""The MLflow target: the drill's model versions live in a real MLflow registry and are served from it.

``prepare`` starts an MLflow server for the run, logs three real versions of the drill's model (v1, v2 good;
v3 carries the drill's fault; each with ``target.artifact_size`` bytes of weights, see ``weights.py``),
deploys v1 then v2 as ``champion`` through the registry adapter, starts a scoring server for v2 behind the
router. Rolling back moves the ``champion`` alias back through
:class:`MlflowRegistry`; after a verified rollback the engine tags the rolled-back version with the event,
readable through MLflow's own API. ``close`` removes everything by the run's label.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from harness.backends.docker import ContainerBackend
from harness.errors import SpecError, SpecIssue
from harness.ports import Progress, ServiceFailed, Versions
from harness.targets.builtin.target import ArtifactFault, FeatureProtocol
from harness.targets.mlflow.models import ARTIFACT_PATH
from harness.targets.mlflow.spec import SUPPORTED_FAULTS, MlflowTargetSpec
from harness.targets.parts import OnServiceStack

if TYPE_CHECKING:
    import docker

    from harness.spec.catalogue import LoadedDrill
    from harness.targets.mlflow.registry import MlflowRegistry
    from harness.targets.mlflow.stack import MlflowStack  # noqa: F401  (the stack type this target runs on)


class MlflowTarget(OnServiceStack["MlflowStack"]):
    name = "mlflow"

    def __init__(self, drill: LoadedDrill, run_id: str, workdir: Path) -> None:
        self.spec = drill.spec
        self.run_id = run_id
        self.workdir = workdir
        # A fresh registry numbers versions 1, 2, 3 in the order prepare() logs them.
        self.versions = Versions("1", "2", "3")
        self.protocol = FeatureProtocol()
        self.fault = ArtifactFault(drill.spec.fault.kind)
        self._backend: ContainerBackend | None = None
        self._registry: MlflowRegistry | None = None
        self.images_source: str | None = None

    @property
    def backend(self) -> ContainerBackend:
        if self._backend is None:
            raise ServiceFailed("the stack is not started")
        return self._backend

    @property
    def registry(self) -> MlflowRegistry:
        if self._registry is None:
            raise ServiceFailed("the MLflow server is not started")
        return self._registry

    @property
    def tracking_uri(self) -> str:
        return self.stack.tracking_uri

    def prepare(self, progress: Progress) -> None:
        from dataclasses import replace

        from harness.stack.docker_api import connect
        from harness.stack.images import ensure_images
        from harness.targets.mlflow.image import ensure_image
        from harness.targets.mlflow.models import seed_versions
        from harness.targets.mlflow.registry import MlflowRegistry
        from harness.targets.mlflow.stack import MLFLOW_PORT, MlflowStack
        from harness.targets.mlflow.weights import ServerWeights

        client: docker.DockerClient = connect()
        images = ensure_images(client, progress)
        mlflow_image = ensure_image(client, progress)
        self.images_source = f"{images.source}+mlflow-{mlflow_image.source}"
        backend_store = self.spec.target.backend_store if isinstance(self.spec.target, MlflowTargetSpec) else None
        size = self.artifact_size
        self._stack = MlflowStack(client, replace(images, model=mlflow_image.tag), self.run_id, self.spec.model,
                                   startup_timeout=self.startup_timeout, model_env=self.spec.noise.env(),
                                   backend_store=backend_store, artifact_size=size)
        self._stack.client_timeout = self.spec.traffic.timeout  # the router answers a hung server before the client gives up
        self._backend = ContainerBackend(self._stack)
        progress("starting the MLflow server (SQLite backend store, artifacts on a volume)")
        self._stack.start_mlflow()
        self._registry = MlflowRegistry(self._stack.tracking_uri, self.spec.model, run_id=self.run_id)
        weights = None
        if size:
            assert self._stack.mlflow_container is not None
            weights = ServerWeights(self._stack.mlflow_container.get_wrapped_container(), MLFLOW_PORT, size, progress)
        progress(f"logging versions 1, 2 (good) and 3 ({self.spec.fault.kind}) of {self.spec.model} to MLflow"
                 + (f", each with {size / 1e6:,.0f} MB of weights" if size else ""))
        seed_versions(self._registry, self.spec.fault.model_dump(exclude_none=True), weights)
        self._stack.start_rest(self.versions.stable)
        stable = self._backend.adopt("stable")
        self.router.attach("stable", stable)  # haproxy.cfg starts it at weight 100

    @property
    def artifact_size(self) -> int:
        target = self.spec.target
        return int(target.artifact_size) if isinstance(target, MlflowTargetSpec) else 0

    @property
    def startup_timeout(self) -> float:
        """How long a scoring server may take to start: 90 s, plus 60 s per GB of weights it downloads and hashes
        (through the MLflow server, which copies each file once more on its way out)."""
        return 90.0 + 60.0 * self.artifact_size / 1e9

    def sabotage(self, how: str) -> None:
        """Break the way back: the stable version's artifact (see :func:`sabotage_version`). The running stable
        server keeps its model in memory; what breaks is the rollback to it."""
        sabotage_version(self.registry, self.versions.stable, how)

    def services(self) -> dict[str, bool]:
        stack = self._stack
        if stack is None:
            return {}
        return {"router": stack.container_running(stack.router_container),
                "prometheus": stack.container_running(stack.prometheus_container),
                "mlflow": stack.container_running(stack.mlflow_container),
                "stable": stack.model_running("stable")}

    def close(self) -> None:
        if self._stack is not None:
            self._stack.close()


def sabotage_version(registry: MlflowRegistry, version: str, how: str) -> None:
    """Through MLflow's own artifact API: overwrite the version's pickled model with garbage
    (``corrupt-previous``) or delete it (``missing-previous``)."""
    if how == "none":
        return
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    from harness.targets.mlflow.models import tracking
    from harness.targets.mlflow.registry import mlflow_errors

    with mlflow_errors(f"sabotage {how} of {registry.model} version {version}"), tracking(registry.tracking_uri):
        mv = registry.client.get_model_version(registry.model, version)
        if how == "corrupt-previous":
            with tempfile.TemporaryDirectory(prefix="drill-sabotage-") as tmp:
                garbage = Path(tmp) / "model.pkl"
                garbage.write_bytes(b"garbage-bytes-here, not a pickle")
                registry.client.log_artifact(mv.run_id, str(garbage), ARTIFACT_PATH)
        elif how == "missing-previous":
            get_artifact_repository(str(mv.source)).delete_artifacts("model.pkl")  # type: ignore[no-untyped-call]


def create(drill: LoadedDrill, run_id: str, workdir: Path, backend: str) -> MlflowTarget:
    kind = drill.spec.fault.kind
    if kind not in SUPPORTED_FAULTS:
        raise SpecError(SpecIssue(str(drill.drill_path), "fault.kind", f"{kind!r} cannot be made into an MLflow "
                                  f"model version; supported: {', '.join(SUPPORTED_FAULTS)}"))
    try:
        import mlflow  # noqa: F401
    except ImportError as exc:
        from harness.errors import BackendUnavailable

        raise BackendUnavailable(f"target 'mlflow' needs the mlflow extra: pip install 'drill-harness[mlflow]' "
                                 f"({exc})") from None
    return MlflowTarget(drill, run_id, workdir)
