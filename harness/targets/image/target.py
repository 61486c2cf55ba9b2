"""The ``image`` target: a team's own model server image behind the harness's router, as a drill target.

``prepare`` resolves every version the drill plays with (a local image, or a build cached by content)
before it starts anything, so a missing image or a failing build is bad input that changes nothing.
Each version's image then gets a run tag (``drill-team-<model>:run-<run id>-<version>``): the registry
deploys by that tag, a sabotaged drill removes or repoints it (the way back is gone, not the team's
image), and ``close`` removes the run's tags with its containers and network.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import docker
import docker.errors

from harness.errors import SpecError, SpecIssue
from harness.ports import Progress, RegistryError, ServiceFailed, Versions
from harness.stack.cleanup import Failures
from harness.stack.docker_api import connect, sweep
from harness.stack.images import ensure_images
from harness.stack.services import ServiceStack, prometheus_config, running
from harness.targets.image.backend import ImageBackend, ProxyFault
from harness.targets.image.build import ImageBuilder, ResolvedImage, repo_name
from harness.targets.image.protocol import JsonlProtocol
from harness.targets.image.registry import ImageRegistry
from harness.targets.image.spec import ImageTargetSpec
from harness.targets.parts import OnServiceStack

if TYPE_CHECKING:
    from collections.abc import Callable

    from harness.spec.catalogue import LoadedDrill

_TAG_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


class ImageTarget(OnServiceStack["ServiceStack"]):
    name = "image"

    def __init__(self, drill: LoadedDrill, run_id: str, workdir: Path,
                 connect_docker: Callable[[], docker.DockerClient] = connect) -> None:
        spec = drill.spec.target
        if not isinstance(spec, ImageTargetSpec):
            raise SpecError(SpecIssue(str(drill.drill_path), "target.kind", "the image target needs target.kind: image"))
        self.drill = drill
        self.spec = spec
        self.run_id = run_id
        self.model = drill.spec.model
        self.versions = Versions(spec.previous or spec.stable, spec.stable, spec.candidate)
        self.protocol = JsonlProtocol(spec)
        self.registry = ImageRegistry(self.model, workdir / "registry", list(spec.versions), self.versions,
                                      self.check_image)
        self.fault = ProxyFault(drill.spec.fault, run_id, None, "", spec.routed_path)
        self.images_source: str | None = None
        self.resolved: dict[str, ResolvedImage] = {}
        self._connect = connect_docker
        self._client: docker.DockerClient | None = None
        self._backend: ImageBackend | None = None
        self._run_tags: dict[str, str] = {}

    @property
    def backend(self) -> ImageBackend:
        if self._backend is None:
            raise ServiceFailed("the stack is not started")
        return self._backend

    # ---- lifecycle ------------------------------------------------------------------------------
    def prepare(self, progress: Progress) -> None:
        client = self._client = self._connect()
        builder = ImageBuilder(client, self.model, self.drill.drill_path, progress)
        wanted = list(dict.fromkeys([self.versions.stable, self.versions.candidate, self.versions.previous]))
        # All of them before anything starts (a bad one is bad input, nothing to undo), beside the stack's own
        # images: the first version alone (the others reuse its cached layers), then the rest in parallel.
        with ThreadPoolExecutor(max_workers=3) as pool:
            stack_images = pool.submit(ensure_images, client, progress)
            first, *rest = wanted
            self.resolved[first] = builder.resolve(first, self.spec.versions[first])
            for name, image in zip(rest, pool.map(lambda n: builder.resolve(n, self.spec.versions[n]), rest), strict=True):
                self.resolved[name] = image
            roles = stack_images.result()
        built = [r for r in self.resolved.values() if r.built]
        if built:
            progress("built " + ", ".join(f"{r.version} in {r.seconds:.1f}s" for r in built))
        # Built now (a team version, or the harness's role images) is not "cached", whatever the roles say.
        self.images_source = "built" if built else roles.source
        for name, image in self.resolved.items():
            self._tag_for_run(name, image)
        stack = self._stack = ServiceStack(client, roles, self.run_id)
        stack.client_timeout = self.drill.spec.traffic.timeout  # the router answers a hung server before the client gives up
        stack.create_network()
        self.fault.network, self.fault.image = stack.network, roles.model
        backend = self._backend = ImageBackend(self.spec, self.run_id, stack.network, self.image_ref, stack.probe,
                                                     roles.model)
        with ThreadPoolExecutor(max_workers=3) as pool:
            stable = pool.submit(backend.start, "stable", self.versions.stable)
            router = pool.submit(stack.start_router, self.spec.health_path)
            prometheus = pool.submit(stack.start_prometheus, prometheus_config(self.spec.scrape_port, self.spec.metrics_path))
            router.result()
            prometheus.result()
            endpoint = stable.result()
        self.router.attach("stable", endpoint)  # haproxy.cfg starts it at weight 100

    def sabotage(self, how: str) -> None:
        """Break the way back to the stable version: its run tag removed, or pointing at another image."""
        if how == "none":
            return
        client = self._docker()
        tag = self._run_tags[self.versions.stable]
        if how == "missing-previous":
            client.images.remove(tag, noprune=True)  # only the tag: the running stable server keeps its image
        elif how == "corrupt-previous":
            client.images.get(self.resolved[self.versions.candidate].image_id).tag(*tag.split(":", 1))

    def services(self) -> dict[str, bool]:
        stack = self._stack
        if stack is None:
            return {}
        return {"router": running(stack.router_container), "prometheus": running(stack.prometheus_container),
                "stable": self._backend is not None and self._backend.running("stable")}

    def close(self) -> None:
        if self._client is None:
            return
        client = self._client
        failures = Failures(f"closing run {self.run_id}")  # the run's tags go even if a container would not
        failures.attempt("the run's resources", lambda: sweep(client, self.run_id))
        for tag in list(self._run_tags.values()):
            try:
                client.images.remove(tag, noprune=True)
            except docker.errors.NotFound:
                pass
            except docker.errors.APIError:
                pass  # a tag shared with a running container of another run cannot be: tags are per run
        self._run_tags.clear()
        failures.raise_if_any()

    # ---- images ---------------------------------------------------------------------------------
    def image_ref(self, version: str) -> str:
        return self._run_tags.get(version) or self.resolved[version].tag

    def check_image(self, version: str) -> None:
        """The registry's deployability check: the version's run tag exists and still names its image."""
        image = self.resolved.get(version)
        if image is None:  # a version the drill did not resolve: resolve it now (may build)
            builder = ImageBuilder(self._docker(), self.model, self.drill.drill_path, lambda _m: None)
            try:
                image = self.resolved[version] = builder.resolve(version, self.spec.versions[version])
            except SpecError as exc:
                raise RegistryError(f"{self.model}/{version}: image cannot be built or found: {exc}") from exc
            self._tag_for_run(version, image)
        tag = self._run_tags[version]
        build = self.spec.versions[version].build
        source = f"built from {build.context}" if build is not None else f"image {image.tag}"
        try:
            found = self._docker().images.get(tag)
        except docker.errors.ImageNotFound:
            raise RegistryError(f"{self.model}/{version}: image {tag} is missing ({source}); "
                                f"there is no way back to {version}") from None
        if found.id != image.image_id:
            raise RegistryError(f"{self.model}/{version}: image {tag} now names {found.short_id}, not the "
                                f"{version} image {image.image_id[7:19]} ({source})")

    def _tag_for_run(self, version: str, image: ResolvedImage) -> None:
        tag = _TAG_UNSAFE.sub("-", f"run-{self.run_id}-{version}")[:128]
        repo = repo_name(self.model)
        self._docker().images.get(image.image_id).tag(repo, tag)
        self._run_tags[version] = f"{repo}:{tag}"

    def _docker(self) -> docker.DockerClient:
        if self._client is None:
            self._client = self._connect()
        return self._client


def create(drill: LoadedDrill, run_id: str, workdir: Path, backend: str) -> ImageTarget:
    return ImageTarget(drill, run_id, workdir)


if TYPE_CHECKING:
    from harness.ports import Target

    def _fits_the_seam(target: ImageTarget) -> Target:  # mypy proves ImageTarget is a ports.Target
        return target
