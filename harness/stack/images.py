"""The stack's images, made without a registry when there is none.

Order of preference, per build-input digest (a content label on every image):
1. local images whose ``io.drill.image.inputs`` label matches: reuse (warm start, well under a second);
2. official images, when a registry answers: pull and build thin role images on them;
3. a Debian base bootstrapped here (mmdebstrap or debootstrap + ``docker import``: stack/bootstrap.py),
   then the role images on it.
If none can work, BackendUnavailable says what to do.
"""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
import textwrap
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import docker
import docker.errors

from harness.errors import BackendUnavailable
from harness.stack.bootstrap import BootstrapProgress, Recipe, bootstrap_archive, build_log_path, scratch_dir
from harness.stack.docker_api import LABEL_IMAGE, LABEL_IMAGE_INPUTS

__all__ = ["BootstrapProgress", "StackImages", "build_log_path", "ensure_images"]

Progress = Callable[[str], None]

SERVING_FILES = ("model_server.py", "fault_proxy.py", "tee_proxy.py", "haproxy.cfg", "haproxy-swarm.cfg", "prometheus.yml")
DEBIAN_SUITE = "bookworm"
DEBIAN_PACKAGES = ("python3", "haproxy", "prometheus")
DEFAULT_MIRROR = "http://deb.debian.org/debian"
# Left out of the bootstrapped base: documentation, locales and apt's caches are dead weight in a container.
TRIM_PATHS = (
    "usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/locale",
    "var/lib/apt/lists", "var/cache/apt", "var/cache/debconf",
    # 218 MB of time-zone data for Prometheus's web UI (a dependency of its package); the drill reads its API only.
    "usr/share/javascript/moment-timezone",
)
OFFICIAL_BASES = {"model": "python:3.11-slim", "router": "haproxy:2.6", "prometheus": "prom/prometheus:v2.42.0"}

ROLES = ("model", "router", "prometheus")
# Every role image holds all serving files under /opt/drill; the stack sets each container's
# entrypoint (see stack/services.py and stack/stack.py), so a bootstrapped base needs one build, not three.
BUILD_RECIPE = "COPY . /opt/drill/\nUSER 65534:65534\n"
# A base bootstrapped here already holds the serving files (added to its archive before the import, labelled
# with their digest): it is then the role image itself, no build (a build here costs 2-8 s even for one USER line:
# each instruction commits a layer on fuse-overlayfs). Its default user is root, for a team's builds on it; the
# stack never relies on an image's USER: every container and service it starts names 65534:65534 itself
# (stack/services.py ``hardening``, stack/swarm_api.py).
LABEL_SERVING = "io.drill.image.serving"


@dataclass(frozen=True)
class StackImages:
    model: str
    router: str
    prometheus: str
    source: str  # cached | official | bootstrap
    seconds: float


def _serving_bytes() -> dict[str, bytes]:
    pkg = resources.files("harness.serving")
    return {name: pkg.joinpath(name).read_bytes() for name in SERVING_FILES}


def base_digest() -> str:
    # v3: image labels io.drill.image* (a base labelled io.drill.harness made a team's containers look like drill's)
    recipe = f"{DEBIAN_SUITE}|{','.join(DEBIAN_PACKAGES)}|{','.join(TRIM_PATHS)}|v3"
    return hashlib.sha256(recipe.encode()).hexdigest()[:16]


def serving_digest() -> str:
    h = hashlib.sha256()
    for name, data in sorted(_serving_bytes().items()):
        h.update(name.encode() + b"\0" + data)
    return h.hexdigest()[:16]


def inputs_digest() -> str:
    """Changes whenever anything that goes into the role images changes."""
    h = hashlib.sha256(base_digest().encode())
    h.update(serving_digest().encode())
    h.update(BUILD_RECIPE.encode())
    return h.hexdigest()[:16]


def _tag(role: str, digest: str) -> str:
    return f"drill-{role}:{digest}"


def have_image(client: docker.DockerClient, tag: str) -> bool:
    try:
        client.images.get(tag)
    except docker.errors.ImageNotFound:
        return False
    return True


def cached_images(client: docker.DockerClient) -> StackImages | None:
    digest = inputs_digest()
    tags = {role: _tag(role, digest) for role in ROLES}
    if all(have_image(client, t) for t in tags.values()):
        return StackImages(tags["model"], tags["router"], tags["prometheus"], "cached", 0.0)
    return None


def ensure_images(client: docker.DockerClient, progress: Progress, *, force: bool = False) -> StackImages:
    """Return the role images, building them if needed. See the module docstring for the order."""
    started = time.monotonic()
    if not force and (found := cached_images(client)) is not None:
        progress(f"images up to date ({found.model.split(':')[1]})")
        return found
    source = os.environ.get("DRILL_IMAGE_SOURCE", "auto")  # auto | official | bootstrap
    bases: dict[str, str] | None = None
    if source in ("auto", "official"):
        bases = _pull_official(client, progress)
        if bases is None and source == "official":
            raise BackendUnavailable(f"DRILL_IMAGE_SOURCE=official but no registry answered "
                                     f"({_no_registry[0].rstrip('; ')}); unset it to bootstrap.")
    if bases is None:
        base = ensure_base(client, progress, force=force)
        bases = {role: base for role in ROLES}
        source = "bootstrap"
    else:
        source = "official"
    digest = inputs_digest()
    built: dict[str, str] = {}
    for role in ROLES:
        tag = _tag(role, digest)
        if bases[role] in built:  # same base: one build, another tag
            client.images.get(built[bases[role]]).tag(tag)
            continue
        if _holds_serving_files(client, bases[role]):
            repo, _, version = tag.partition(":")
            client.images.get(bases[role]).tag(repo, version)
        else:
            progress(f"building {tag}")
            _build(client, bases[role], tag, digest)
        built[bases[role]] = tag
    return StackImages(
        _tag("model", digest), _tag("router", digest), _tag("prometheus", digest), source,
        time.monotonic() - started,
    )


def _pull_official(client: docker.DockerClient, progress: Progress) -> dict[str, str] | None:
    """The official bases, pulled; None when no registry answers (said once, with the next step)."""
    for image in OFFICIAL_BASES.values():
        if have_image(client, image):
            continue
        try:
            client.images.pull(image)
        except docker.errors.APIError as exc:
            reason = (getattr(exc, "explanation", None) or str(exc)).splitlines()[0]
            _no_registry[0] = f"no registry reachable ({textwrap.shorten(reason, 90, placeholder=' …')}); "
            return None
    return dict(OFFICIAL_BASES)


_no_registry = [""]  # why the official images were not used, said on the bootstrap's first line


def base_tag() -> str:
    return f"drill-base:{base_digest()}"


def ensure_base(client: docker.DockerClient, progress: Progress, *, force: bool, tag: str | None = None) -> str:
    """The bootstrapped Debian base (``tag``, by default the content-labelled ``drill-base:<digest>``)."""
    tag = tag or base_tag()
    if not force and have_image(client, tag):
        return tag
    with _BASE_LOCK:  # a team's builds and the stack's images may want the base at once: bootstrap it once
        if not force and have_image(client, tag):
            return tag
        return _bootstrap_base(client, progress, tag)


_BASE_LOCK = threading.Lock()


def _bootstrap_base(client: docker.DockerClient, progress: Progress, tag: str) -> str:
    recipe = Recipe(DEBIAN_SUITE, DEBIAN_PACKAGES, TRIM_PATHS, os.environ.get("DRILL_DEBIAN_MIRROR", DEFAULT_MIRROR))
    with scratch_dir() as tmp:
        archive = bootstrap_archive(recipe, Path(tmp), progress, lead=_no_registry[0])
        with tarfile.open(archive, mode="a") as tar:  # appended: the archive is plain tar, written in scratch
            folder = tarfile.TarInfo("./opt/drill")
            folder.type, folder.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(folder)
            for name, data in _serving_bytes().items():
                tar.addfile(_entry(f"./opt/drill/{name}", len(data)), io.BytesIO(data))
        repo, _, version = tag.partition(":")
        client.api.import_image_from_file(
            str(archive), repository=repo, tag=version,
            changes=[f"LABEL {LABEL_IMAGE}=true", f"LABEL {LABEL_IMAGE_INPUTS}={base_digest()}",
                     f"LABEL {LABEL_SERVING}={serving_digest()}"],
        )
    return tag


def _holds_serving_files(client: docker.DockerClient, base: str) -> bool:
    labels = client.images.get(base).labels or {}
    return labels.get(LABEL_SERVING) == serving_digest()


def _entry(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mode = size, 0o644
    return info


def _build(client: docker.DockerClient, base: str, tag: str, digest: str) -> None:
    build_in_memory(client, tag, {"Dockerfile": f"FROM {base}\n{BUILD_RECIPE}".encode(), **_serving_bytes()},
                    {LABEL_IMAGE: "true", LABEL_IMAGE_INPUTS: digest, LABEL_SERVING: serving_digest()})


def build_in_memory(client: docker.DockerClient, tag: str, files: Mapping[str, bytes], labels: Mapping[str, str], *,
                    host_files: Mapping[str, Path] | None = None, hint: str = "") -> None:
    """Build ``tag`` from a context made in memory: ``files`` (the Dockerfile among them) and ``host_files``
    (archive name -> a file on the host). A failed build raises BackendUnavailable with the tail of its log."""
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        for name, data in files.items():
            tar.addfile(_entry(name, len(data)), io.BytesIO(data))
        for name, path in (host_files or {}).items():
            tar.add(str(path), arcname=name)
    context.seek(0)
    try:
        client.images.build(fileobj=context, custom_context=True, tag=tag, pull=False, rm=True, forcerm=True,
                            labels=dict(labels))
    except docker.errors.BuildError as exc:
        log = "".join(str(chunk.get("stream", "")) for chunk in exc.build_log)[-2000:]
        raise BackendUnavailable(f"building {tag} failed{hint}: {exc}\n{log}") from exc
    except docker.errors.APIError as exc:
        raise BackendUnavailable(f"building {tag} failed{hint}: {exc}") from exc


def build_on_base(client: docker.DockerClient, tag: str, recipe: str, labels: Mapping[str, str], progress: Progress,
                  *, announce: str | None = None, hint: str = "") -> str:
    """``tag``: the bootstrapped base with ``recipe`` (Dockerfile lines after its ``FROM``), built once and
    reused while the tag (a digest of the recipe's inputs) is there."""
    if have_image(client, tag):
        return tag
    base = ensure_base(client, progress, force=False)
    if announce:
        progress(announce)
    build_in_memory(client, tag, {"Dockerfile": f"FROM {base}\n{recipe}".encode()}, labels, hint=hint)
    return tag
