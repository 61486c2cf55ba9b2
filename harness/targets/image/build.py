"""A team's version images: a local image as is, or a build context built here, cached by content.

A build is tagged ``drill-team-<model>:<digest>`` where the digest covers every file docker would
send (``.dockerignore`` respected), the Dockerfile's name, the build arguments and the base image, and
labelled ``io.drill.image=true``; the same inputs never build twice. No registry is needed: where a
Dockerfile declares ``ARG BASE_IMAGE=<default>`` and that default is neither local nor pullable,
the bootstrapped Debian base (python3 3.11, no pip) is passed as ``BASE_IMAGE`` instead, and said so.
"""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors
from docker.utils.build import exclude_paths

from harness.errors import SpecError, SpecIssue
from harness.ports import Progress
from harness.stack.docker_api import LABEL_IMAGE, LABEL_IMAGE_INPUTS
from harness.targets.image.spec import BuildSpec, VersionSpec

BASE_ARG = "BASE_IMAGE"
_BASE_ARG_LINE = re.compile(rf"^\s*ARG\s+{BASE_ARG}\s*=\s*(\S+)\s*$", re.IGNORECASE | re.MULTILINE)
_REPO_SAFE = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class ResolvedImage:
    """What a version runs: the image's id and the tag it was found or built under."""

    version: str
    tag: str
    image_id: str
    built: bool  # built now (not found in the cache)
    seconds: float
    base_fallback: str | None = None  # the base passed as BASE_IMAGE when the default was unavailable


def repo_name(model: str) -> str:
    return "drill-team-" + (_REPO_SAFE.sub("-", model.lower()).strip("-") or "model")


def context_digest(build: BuildSpec, args: dict[str, str]) -> str:
    """Changes whenever anything docker would build from changes: files sent, Dockerfile name, arguments."""
    h = hashlib.sha256(f"dockerfile={build.dockerfile}\n".encode())
    for key in sorted(args):
        h.update(f"arg {key}={args[key]}\n".encode())
    ignore = build.context / ".dockerignore"
    patterns = [p.strip() for p in ignore.read_text().splitlines() if p.strip() and not p.startswith("#")] if ignore.is_file() else []
    for rel in sorted(exclude_paths(str(build.context), patterns, dockerfile=build.dockerfile)):
        path = build.context / rel
        if path.is_file():
            h.update(rel.encode() + b"\0" + oct(path.stat().st_mode & 0o777).encode() + b"\0")
            with path.open("rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    h.update(block)
    return h.hexdigest()[:16]


class ImageBuilder:
    """Finds or builds each version's image; remembers whether a registry answers (asked once)."""

    def __init__(self, client: docker.DockerClient, model: str, drill_path: Path, progress: Progress,
                 fallback_base: FallbackBase | None = None) -> None:
        self.client = client
        self.model = model
        self.drill_path = drill_path
        self.progress = progress
        self.fallback_base = fallback_base or FallbackBase(client, progress)

    def resolve(self, name: str, version: VersionSpec) -> ResolvedImage:
        started = time.monotonic()
        if version.image is not None:
            try:
                image = self.client.images.get(version.image)
            except docker.errors.ImageNotFound:
                raise SpecError(SpecIssue(str(self.drill_path), f"target.versions.{name}.image",
                                          f"no local image {version.image!r}: build or load it first "
                                          "(drill never pulls a team's image), or give build: {context: DIR}")) from None
            return ResolvedImage(name, version.image, str(image.id), False, time.monotonic() - started)
        assert version.build is not None
        return self._build(name, version.build, started)

    def _build(self, name: str, build: BuildSpec, started: float) -> ResolvedImage:
        args = dict(build.args)
        fallback = None
        default_base = self._default_base(build)
        if default_base is not None and BASE_ARG not in args and not self.fallback_base.available(default_base):
            fallback = self.fallback_base.stand_in(default_base)
            args[BASE_ARG] = fallback
        digest = context_digest(build, args)
        tag = f"{repo_name(self.model)}:{digest}"
        try:
            found = self.client.images.get(tag)
            if found.labels.get(LABEL_IMAGE_INPUTS) == digest:
                self.progress(f"{name}: image {tag} up to date")
                return ResolvedImage(name, tag, str(found.id), False, time.monotonic() - started, fallback)
        except docker.errors.ImageNotFound:
            pass
        self.progress(f"{name}: building {build.context.name}/{build.dockerfile} as {tag}")
        try:
            image, _ = self.client.images.build(
                path=str(build.context), dockerfile=build.dockerfile, buildargs=args, tag=tag, pull=False,
                rm=True, forcerm=True, labels={LABEL_IMAGE: "true", LABEL_IMAGE_INPUTS: digest},
            )
        except docker.errors.BuildError as exc:
            log = "".join(str(chunk.get("stream", "") or chunk.get("error", "")) for chunk in exc.build_log)
            tail = "\n".join(log.strip().splitlines()[-12:])
            hint = ""
            if default_base is None and any(s in log + str(exc) for s in ("pull access denied", "no such host", "not found")):
                hint = (f"\nhint: no registry answers here; start the Dockerfile with `ARG {BASE_ARG}=<image>` and "
                        f"`FROM ${{{BASE_ARG}}}` and drill builds it on its own Debian base")
            raise SpecError(SpecIssue(str(self.drill_path), f"target.versions.{name}.build",
                                      f"building {build.context}/{build.dockerfile} failed: {exc.msg}\n{tail}{hint}")) from exc
        except docker.errors.APIError as exc:
            raise SpecError(SpecIssue(str(self.drill_path), f"target.versions.{name}.build",
                                      f"building {build.context}/{build.dockerfile} failed: {exc.explanation or exc}")) from exc
        return ResolvedImage(name, tag, str(image.id), True, time.monotonic() - started, fallback)

    @staticmethod
    def _default_base(build: BuildSpec) -> str | None:
        """The default of ``ARG BASE_IMAGE=...`` when the Dockerfile declares one before its first FROM."""
        text = (build.context / build.dockerfile).read_text(encoding="utf-8", errors="replace")
        head = text.split("\nFROM", 1)[0] if not text.lstrip().upper().startswith("FROM") else ""
        match = _BASE_ARG_LINE.search(head)
        return match.group(1).strip("\"'") if match else None


class FallbackBase:
    """Is an image local or pullable? If not, the bootstrapped Debian base stands in (made once)."""

    def __init__(self, client: docker.DockerClient, progress: Progress) -> None:
        self.client = client
        self.progress = progress
        self._answers: dict[str, bool] = {}
        self._tag: str | None = None
        self._announced: set[str] = set()

    def available(self, image: str) -> bool:
        if image not in self._answers:
            try:
                self.client.images.get(image)
                self._answers[image] = True
            except docker.errors.ImageNotFound:
                self.progress(f"pulling base {image}")
                try:
                    self.client.images.pull(image)
                    self._answers[image] = True
                except docker.errors.APIError:
                    self._answers[image] = False
        return self._answers[image]

    def stand_in(self, wanted: str) -> str:
        """The bootstrapped Debian base, made if needed; says once per base image that it stands in."""
        if self._tag is None:
            from harness.stack.images import ensure_base  # the same base the stack's role images stand on

            self._tag = ensure_base(self.client, self.progress, force=False)
        if wanted not in self._announced:
            self._announced.add(wanted)
            self.progress(f"base {wanted} is not local and no registry answered; building FROM {self._tag} "
                          f"(Debian bookworm, python3 3.11, no pip) as {BASE_ARG} instead")
        return self._tag
