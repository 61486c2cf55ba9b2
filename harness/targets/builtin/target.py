"""The built-in target: the demo stack (stdlib model server, file registry, HAProxy, Prometheus) in Docker.

It is today's stack behind the seams of ``harness.ports``: model containers per slot (the backend),
HAProxy's runtime API (the router), the file registry seeded with v1, v2 (good) and v3 (the drill's
fault baked into its artifact), the JSON feature protocol of ``harness/serving/model_server.py``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.ports import Backend, Endpoint, Example, Progress, Reading, ServiceFailed, Versions
from harness.targets.builtin.model import make_examples
from harness.targets.builtin.registry import Registry
from harness.targets.builtin.seed import seed_registry
from harness.targets.parts import OnServiceStack

if TYPE_CHECKING:
    import docker

    from harness.backends.swarm.session import SwarmSession
    from harness.catalogue import LoadedDrill
    from harness.targets.builtin.stack import Stack

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


class ContainerBackend:
    """Model servers as containers, one per slot, started by the stack (the demo server reading the file
    registry from the run's volume, or MLflow's scoring server loading its version from the MLflow registry)."""

    kind = "docker"

    def __init__(self, stack: Stack, registry: Registry | None = None) -> None:
        self.stack = stack
        self.registry = registry  # a file registry to copy into the volume before each start; None: nothing to copy
        self._addresses: dict[str, Endpoint] = {}

    def start(self, slot: str, version: str) -> Endpoint:
        from harness.targets.builtin.stack import MODEL_PORT

        if self.registry is not None:
            self.stack.sync_registry(self.registry.root)  # the server reads what the registry says now
        endpoint = Endpoint(self.stack.start_model(slot, version), MODEL_PORT)
        self._addresses[slot] = endpoint
        return endpoint

    def stop(self, slot: str) -> None:
        self._addresses.pop(slot, None)
        self.stack.stop_model(slot)

    def running(self, slot: str) -> bool:
        return self.stack.model_running(slot)

    def address(self, slot: str) -> Endpoint | None:
        return self._addresses.get(slot)

    def replicas(self) -> dict[str, int] | None:
        return None


class BuiltinTarget(OnServiceStack["Stack"]):
    name = "builtin"

    def __init__(self, drill: LoadedDrill, run_id: str, workdir: Path,
                 client_factory: Any = None, backend_kind: str = "docker") -> None:
        self.spec = drill.spec
        self.backend_kind = backend_kind  # docker: a container per slot; swarm: a replicated service per slot
        self.run_id = run_id
        self.registry = Registry(workdir / "registry", drill.spec.model)
        seeded = seed_registry(self.registry, drill.spec.fault)
        self.versions = Versions(seeded.previous, seeded.stable, seeded.candidate)
        self.protocol = FeatureProtocol()
        self.fault = ArtifactFault(drill.spec.fault.kind)
        self._client_factory = client_factory
        self._backend: Backend | None = None
        self._session: SwarmSession | None = None
        self.images_source: str | None = None

    @property
    def backend(self) -> Backend:
        if self._backend is None:
            raise ServiceFailed("the stack is not started")
        return self._backend

    def prepare(self, progress: Progress) -> None:
        from harness.stack.docker_api import connect
        from harness.stack.images import ensure_images
        from harness.targets.builtin.stack import MODEL_PORT, Stack

        client: docker.DockerClient = (self._client_factory or connect)()
        images = ensure_images(client, progress)
        self.images_source = images.source
        if self.backend_kind == "swarm":
            from harness.backends.swarm import open_backend
            from harness.backends.swarm.backend import ROUTER_CONFIG

            self._stack = Stack(client, images, self.run_id, self.spec.model, model_env=self.spec.noise.env(),
                                router_configs=(ROUTER_CONFIG,))
            self._stack.start(self.registry.root, None)  # network, volume, router, Prometheus; no model container
            self._session, swarm = open_backend(self._stack, self.registry, self.spec, progress)
            self._backend = swarm
            stable = swarm.start("stable", self.versions.stable)
        else:
            self._stack = Stack(client, images, self.run_id, self.spec.model, model_env=self.spec.noise.env())
            containers = self._backend = ContainerBackend(self._stack, self.registry)
            self._stack.start(self.registry.root, self.versions.stable)
            stable = containers._addresses["stable"] = Endpoint(self._stack.model_ip("stable"), MODEL_PORT)
        self.router.attach("stable", stable)  # haproxy.cfg starts it at weight 100

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
        try:
            if self._stack is not None:
                self._stack.close()
        finally:
            if self._session is not None:
                self._session.close()  # the run's Swarm resources; leaves a swarm the run made

    @property
    def swarm_session(self) -> SwarmSession | None:
        return self._session


def create(drill: LoadedDrill, run_id: str, workdir: Path, backend: str) -> BuiltinTarget:
    from harness.targets import backend_error, check_backend

    if backend not in ("docker", "swarm"):
        raise backend_error(drill, backend)
    check_backend(drill, backend)  # swarm-update needs Swarm
    return BuiltinTarget(drill, run_id, workdir, backend_kind=backend)
