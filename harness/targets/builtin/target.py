"""The built-in target: the demo stack (stdlib model server, file registry, HAProxy, Prometheus) in Docker.

It is today's stack behind the seams of ``harness.ports``: model containers per slot (the backend),
HAProxy's runtime API (the router), the file registry seeded with v1, v2 (good) and v3 (the drill's
fault baked into its artifact), the JSON feature protocol of ``harness/serving/model_server.py``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.backends.docker import ContainerBackend
from harness.ports import Backend, Endpoint, Example, Progress, Reading, ServiceFailed, Versions
from harness.targets.builtin.model import make_examples
from harness.targets.builtin.registry import Registry
from harness.targets.builtin.seed import seed_registry
from harness.targets.parts import OnServiceStack

if TYPE_CHECKING:
    import docker

    from harness.spec.catalogue import LoadedDrill
    from harness.targets.builtin.stack import Stack  # noqa: F401  (the stack type in OnServiceStack["Stack"])

PROTECTED_FEATURE, PROTECTED_ABOVE = "x3", 1.0


class FeatureProtocol:
    """``POST /v1/predict {"features": {...}}`` -> ``{"prediction", "score", "model_version"}``, labelled requests."""

    method = "POST"
    path = "/v1/predict"
    headers: Mapping[str, str] = {"Content-Type": "application/json"}

    def __init__(self, protected_feature: str = PROTECTED_FEATURE, protected_above: float = PROTECTED_ABOVE) -> None:
        self.protected = (protected_feature, protected_above)

    def examples(self, n: int, seed: int) -> Sequence[Example]:
        name, above = self.protected
        return [Example(json.dumps({"features": ex.features}).encode(), ex.label, ex.features.get(name, 0.0) > above)
                for ex in make_examples(n, seed)]

    def read(self, example: Example, status: int, headers: Mapping[str, str], body: bytes) -> Reading:
        version = headers.get("x-model-version")
        if status != 200:
            return Reading(version)
        answer: dict[str, Any] = json.loads(body)
        prediction = answer.get("prediction")
        score = answer.get("score")
        return Reading(str(answer.get("model_version", version)), prediction,
                       float(score) if isinstance(score, (int, float)) else None,
                       None if example.expected is None else prediction == example.expected)


class ArtifactFault:
    """The built-in bad version carries its fault in its artifact: the router talks to it directly."""

    def __init__(self, description: str) -> None:
        self.description = description

    def wrap(self, slot: str, endpoint: Endpoint) -> Endpoint:
        return endpoint

    def unwrap(self, slot: str) -> None:
        return None


class BuiltinTarget(OnServiceStack["Stack"]):
    name = "builtin"

    def __init__(self, drill: LoadedDrill, run_id: str, workdir: Path,
                 client_factory: Any = None, backend_kind: str = "docker") -> None:
        from harness.backends.registry import BACKENDS

        self.spec = drill.spec
        kind = BACKENDS.get(backend_kind)
        if kind is None or kind.opener is None:
            raise ServiceFailed(f"backend {backend_kind!r} cannot open over the built-in stack")
        self.backend_kind = kind  # docker: a container per slot; swarm: a replicated service per slot
        self.run_id = run_id
        self.registry = Registry(workdir / "registry", drill.spec.model)
        seeded = seed_registry(self.registry, drill.spec.fault)
        self.versions = Versions(seeded.previous, seeded.stable, seeded.candidate)
        self.protocol = FeatureProtocol()
        self.fault = ArtifactFault(drill.spec.fault.kind)
        self._client_factory = client_factory
        self._backend: Backend | None = None
        self._close_backend: Callable[[], object] | None = None
        self._images_source: str | None = None

    @property
    def backend(self) -> Backend:
        if self._backend is None:
            raise ServiceFailed("the stack is not started")
        return self._backend

    def prepare(self, progress: Progress) -> None:
        from harness.backends.host import ModelHost, open_backend, plan
        from harness.stack.docker_api import connect
        from harness.stack.images import ensure_images
        from harness.targets.builtin.stack import Stack

        client: docker.DockerClient = (self._client_factory or connect)()
        images = ensure_images(client, progress)
        self._images_source = images.source
        kind = self.backend_kind
        self._stack = Stack(client, images, self.run_id, self.spec.model, model_env=self.spec.noise.env(),
                            router_configs=kind.router_configs, startup_timeout=self.startup_timeout)
        self._stack.client_timeout = self.spec.traffic.timeout  # the router answers a hung server before the client gives up
        plan(kind, ModelHost(self._stack, self.spec), progress)  # before it starts: where to publish (several nodes)
        # A backend whose servers are the stack's own containers starts the stable one beside the router.
        self._stack.start(self.registry.root, self.versions.stable if kind.in_stack else None,
                          fill_volume=(lambda: self._write_weights(client, images.model, progress))
                          if self.artifact_size else None)
        opened = open_backend(kind, ModelHost(self._stack, self.spec, lambda: self._stack_sync()), progress)
        self._backend, self._close_backend = opened.backend, opened.close
        if kind.in_stack and isinstance(opened.backend, ContainerBackend):
            stable = opened.backend.adopt("stable")
        else:
            stable = opened.backend.start("stable", self.versions.stable)
        self.router.attach("stable", stable)  # haproxy.cfg starts it at weight 100

    @property
    def artifact_size(self) -> int:
        return int(getattr(self.spec.target, "artifact_size", 0))

    @property
    def startup_timeout(self) -> float:
        """How long a model server may take to load: 30 s, plus 30 s per GB of weights it reads and hashes."""
        return 30.0 + 30.0 * self.artifact_size / 1e9

    def _write_weights(self, client: docker.DockerClient, image: str, progress: Progress) -> None:
        from harness.targets.builtin.stack import REGISTRY_MOUNT
        from harness.targets.builtin.weights import WEIGHTS_FILE, write_weights

        stack, versions = self._stack, self.registry.versions()
        assert stack is not None
        progress(f"writing {len(versions)} x {self.artifact_size / 1e6:,.0f} MB of weights in the registry volume")
        digests = write_weights(client, image, stack.volume_name, REGISTRY_MOUNT, self.run_id, self.spec.model,
                                versions, self.artifact_size)
        for version, digest in digests.items():
            self.registry.set_blob(version, WEIGHTS_FILE, self.artifact_size, digest)
        stack.sync_registry(self.registry.root)

    def _stack_sync(self) -> None:
        assert self._stack is not None
        self._stack.sync_registry(self.registry.root)

    def sabotage(self, how: str) -> None:
        # The stable server already holds its model in memory; what breaks is the way back to it.
        artifact = self.registry.dir / "versions" / self.versions.stable / "model.json"
        if how == "corrupt-previous":
            artifact.write_bytes(artifact.read_bytes()[:-20] + b"garbage-bytes-here}")
        elif how == "missing-previous":
            artifact.unlink()

    def services(self) -> dict[str, bool]:
        stack = self._stack
        if stack is None:
            return {}
        return {"router": stack.container_running(stack.router_container),
                "prometheus": stack.container_running(stack.prometheus_container),
                "stable": self._backend.running("stable") if self._backend is not None else False}

    def close(self) -> None:
        from harness.stack.cleanup import Failures

        failures = Failures(f"closing run {self.run_id}")  # both tried; one summary of what each hit
        if self._stack is not None:
            failures.attempt("the stack", self._stack.close)
        if self._close_backend is not None:  # what opening the backend did (a swarm session: the run's services)
            failures.attempt("the backend", self._close_backend)
        failures.raise_if_any()

    @property
    def images_source(self) -> str | None:
        return self._images_source


def create(drill: LoadedDrill, run_id: str, workdir: Path, backend: str) -> BuiltinTarget:
    if backend != "docker" and int(getattr(drill.spec.target, "artifact_size", 0)):
        from harness.errors import SpecError, SpecIssue

        raise SpecError(SpecIssue(str(drill.drill_path), "target.artifact_size",
                                  f"big weights are written for backend docker only, not {backend}"))
    return BuiltinTarget(drill, run_id, workdir, backend_kind=backend)
