"""service-partition and service-refuse: iptables rules in a named service's own network namespace.

Each rule is put first in its chain, and taken away, by a one-shot container in the service's namespace
(``netfault.in_namespace``); nothing of the fault outlives the rules, and a service that stopped meanwhile took
its namespace and the rules with it.

- ``service-partition``: ``DROP`` of everything from and to each address of ``peer``: the two services cannot
  reach each other (both ways are cut in ``service``'s namespace), everyone else still reaches both.
- ``service-refuse``: ``REJECT --reject-with tcp-reset`` of all TCP to ``port``: a connection is refused
  (``ECONNREFUSED``) and an open one is reset at its next packet, the way a crashed process looks to its
  clients. That includes the service's own loopback: a team's ``compose exec <service> ...`` is a client too (so
  is the service's healthcheck, which fails meanwhile, as it would). Through a port Docker publishes, its proxy
  accepts the client's connection and then closes it (the client sees a reset or an empty answer).
"""

from __future__ import annotations

from typing import Any

from harness.adversity import docker_ops, netfault
from harness.adversity.base import AdversityError, FaultContext, kind
from harness.adversity.spec import AdversitySpec


class _Rules:
    """Rules set in services' namespaces, remembered before they are set (deleting one that is not there is
    harmless), so that whatever a failed start left is deleted too, the last first."""

    def __init__(self, ctx: FaultContext, role: str) -> None:
        self.ctx, self.role = ctx, role
        self._set: list[tuple[str, str, tuple[netfault.Rule, ...]]] = []  # (the service's container id, image, rules)

    def insert(self, container_id: str, tag: str, *rules: netfault.Rule) -> None:
        """Put ``rules`` in one container's namespace with one one-shot container."""
        self._set.append((container_id, tag, rules))
        netfault.in_namespace(self.ctx, container_id, tag, " && ".join(r.insert() for r in rules), self.role)

    def delete_all(self) -> None:
        errors = []
        while self._set:
            container_id, tag, rules = self._set.pop()
            script = " && ".join(r.delete() for r in reversed(rules))
            try:
                netfault.undo_in_namespace(self.ctx, container_id, tag, script, self.role)
            except AdversityError as exc:
                errors.append(str(exc))
        if errors:
            raise AdversityError("; ".join(errors))


class ServicePartition:
    """Two named services cannot reach each other: ``DROP`` rules in ``service``'s namespace for every address
    of ``peer``."""

    def __init__(self, spec: AdversitySpec, ctx: FaultContext) -> None:
        self.spec, self.ctx = spec, ctx
        self.target = f"{spec.service} <-> {spec.peer}"
        self._rules = _Rules(ctx, f"partition-{spec.service}")

    def start(self) -> None:
        mine = docker_ops.service_containers(self.ctx, self.spec.service, "service-partition")
        peers = docker_ops.service_containers(self.ctx, self.spec.peer, "service-partition")
        addresses = sorted({a.ip for peer in peers for a in docker_ops.attachments(peer) if a.ip})
        if not addresses:
            raise AdversityError(f"service {self.spec.peer!r} has no address to cut {self.spec.service!r} from")
        tag = netfault.image(self.ctx.docker())
        for container in mine:
            self._rules.insert(container.id, tag, *(rule for address in addresses for rule in (
                netfault.Rule("filter", "INPUT", f"-s {address} -j DROP"),
                netfault.Rule("filter", "OUTPUT", f"-d {address} -j DROP"))))
        self.target = f"{self.spec.service} <-> {self.spec.peer} ({', '.join(addresses)})"

    def stop(self) -> None:
        self._rules.delete_all()

    def observations(self) -> dict[str, Any]:
        return {}


class ServiceRefuse:
    """A named service's port refuses every connection (a TCP reset for each)."""

    def __init__(self, spec: AdversitySpec, ctx: FaultContext) -> None:
        self.spec, self.ctx = spec, ctx
        self.target = f"{spec.service}:{spec.port} (refused)"
        self.rule = netfault.Rule("filter", "INPUT", f"-p tcp --dport {spec.port} -j REJECT --reject-with tcp-reset")
        self._rules = _Rules(ctx, f"refuse-{spec.service}")
        self._containers = 0

    def start(self) -> None:
        found = docker_ops.service_containers(self.ctx, self.spec.service, "service-refuse")
        tag = netfault.image(self.ctx.docker())
        for container in found:
            self._rules.insert(container.id, tag, self.rule)
        self._containers = len(found)
        self.target = f"{self.spec.service}:{self.spec.port} (refused: {', '.join(c.name for c in found)})"

    def stop(self) -> None:
        self._rules.delete_all()

    def observations(self) -> dict[str, Any]:
        return {"containers": self._containers} if self._containers else {}


@kind("service-partition")
def _service_partition(spec: AdversitySpec, ctx: FaultContext) -> ServicePartition:
    return ServicePartition(spec, ctx)


@kind("service-refuse")
def _service_refuse(spec: AdversitySpec, ctx: FaultContext) -> ServiceRefuse:
    return ServiceRefuse(spec, ctx)
