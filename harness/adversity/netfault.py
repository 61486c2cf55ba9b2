"""What the network faults on a named service share: the image with iptables, iptables rules, and one-shot
containers in the service's own network namespace.

The image is drill's bootstrapped base with Debian's ``iptables``
(``drill-netfault:<digest>``, built once, half a minute); a container of it joins a service's namespace
(``network_mode: container:<id>``) with ``NET_ADMIN`` only and carries the run's labels, so ``drill clean``
sweeps whatever a killed run left.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import docker
import docker.errors

from harness.adversity import docker_ops
from harness.adversity.base import AdversityError, FaultContext
from harness.stack.docker_api import run_labels

RECIPE = ("RUN apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "
          "iptables && rm -rf /var/lib/apt/lists/*\n")


@dataclass(frozen=True)
class Rule:
    """One iptables rule in a service's namespace, as the shell commands that put it first and take it away."""

    table: str
    chain: str
    spec: str

    def insert(self) -> str:
        return f"iptables -t {self.table} -I {self.chain} {self.spec}"

    def delete(self) -> str:
        """Delete it when it is there, succeed when it is not: an undo that is safe twice, or after a failed start."""
        return (f"! iptables -t {self.table} -C {self.chain} {self.spec} 2>/dev/null || "
                f"iptables -t {self.table} -D {self.chain} {self.spec}")


def image(client: docker.DockerClient) -> str:
    """``drill-netfault:<digest>``: the base with iptables, built here when it is not there yet."""
    from harness.errors import BackendUnavailable
    from harness.stack.docker_api import LABEL_HARNESS
    from harness.stack.images import base_tag, build_on_base

    tag = f"drill-netfault:{hashlib.sha256(f'{base_tag()}|iptables|v1'.encode()).hexdigest()[:16]}"
    try:
        return build_on_base(client, tag, RECIPE, {LABEL_HARNESS: "true"}, lambda _m: None)
    except BackendUnavailable as exc:
        raise AdversityError(f"building {tag} (iptables from Debian) failed: {exc}") from exc


def in_namespace(ctx: FaultContext, container_id: str, tag: str, script: str, role: str) -> None:
    """Run ``script`` (sh) in the namespace of ``container_id`` and wait for it; AdversityError when it fails."""
    try:
        ctx.docker().containers.run(tag, ["sh", "-c", script], network_mode=f"container:{container_id}", remove=True,
                                    cap_add=["NET_ADMIN"], cap_drop=["ALL"], labels=run_labels(ctx.run_id, role))
    except docker.errors.DockerException as exc:
        raise AdversityError(f"{script!r} in the namespace of {container_id[:12]} failed: {exc}") from exc


def undo_in_namespace(ctx: FaultContext, container_id: str, tag: str, script: str, role: str) -> None:
    """``in_namespace`` for an undo: a service no longer running took its namespace and rules with it (a stopped
    container gets a fresh namespace when it starts again), so only a failure in a live namespace is an error."""
    try:
        in_namespace(ctx, container_id, tag, script, role)
    except AdversityError:
        if docker_ops.state(ctx.docker(), container_id) in ("running", "paused", "restarting"):
            raise
