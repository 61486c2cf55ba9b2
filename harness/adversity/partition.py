"""partition: the router and the version to go back to cannot reach each other for N seconds.

The slot's container is disconnected from the run network (the one the router reaches it on) and, at
the end, connected again with its aliases; the engine keeps no address on a network without a configured
subnet, so when it hands out a new one the router is pointed at it (what the partition ends as: the same
server, reachable again). Swarm tasks sit on an overlay that a task cannot leave by itself: not offered there.
"""

from __future__ import annotations

from typing import Any

from harness.adversity import docker_ops
from harness.adversity.base import AdversityError, FaultContext, kind
from harness.adversity.capacity import swarm_backend
from harness.adversity.spec import AdversitySpec
from harness.ports import Endpoint


class Partition:
    def __init__(self, spec: AdversitySpec, ctx: FaultContext) -> None:
        self.spec, self.ctx = spec, ctx
        self.target = f"router <-> {spec.slot}"
        self._cut: list[tuple[Any, docker_ops.Attachment]] = []
        self.readdressed: str | None = None

    def start(self) -> None:
        if swarm_backend(self.ctx.target) is not None:
            raise AdversityError("partition is not offered on Swarm (a task cannot leave its overlay)")
        stack = getattr(self.ctx.target, "stack", None)
        network = getattr(getattr(stack, "network", None), "name", None)
        if network is None:
            raise AdversityError("the target has no run network to cut")
        client = self.ctx.docker()
        container = docker_ops.one(client, self.ctx.run_id, f"model-{self.spec.slot}")
        where = next((a for a in docker_ops.attachments(container) if a.network == network), None)
        if where is None:
            raise AdversityError(f"{container.name} is not on the run network {network}")
        self.target = f"router <-> {self.spec.slot} ({container.name} off {network})"
        docker_ops.disconnect(client, container, network)
        self._cut.append((container, where))

    def stop(self) -> None:
        client = self.ctx.docker()
        while self._cut:
            container, where = self._cut.pop()
            ip = docker_ops.reconnect(client, container, where)
            if ip and ip != where.ip:
                repoint(self.ctx, self.spec.slot, ip)
                self.readdressed = f"{where.ip} -> {ip}"

    def observations(self) -> dict[str, Any]:
        return {"readdressed": self.readdressed} if self.readdressed else {}


def repoint(ctx: FaultContext, slot: str, ip: str) -> None:
    """The engine gave the slot's container a new address: the router (and the backend) must use it."""
    backend, router = ctx.target.backend, ctx.target.router
    address = backend.address(slot)
    port = address.port if address is not None else 8080
    if hasattr(router, "set_address"):
        router.set_address(slot, ip, port)
    known = getattr(backend, "_addresses", None)
    if isinstance(known, dict):
        known[slot] = Endpoint(ip, port)


@kind("partition")
def _partition(spec: AdversitySpec, ctx: FaultContext) -> Partition:
    return Partition(spec, ctx)
