"""service-slow: a delay proxy in a named service's own network namespace, for a compose target's stack.

This kernel has no ``tc netem``, so the delay is a sidecar: a container sharing the service's network
namespace (``network_mode: container:<id>``, ``NET_ADMIN`` only), whose iptables ``REDIRECT`` sends
connections arriving for the service's port to a small proxy that waits ``latency`` per connection and then
forwards to the real port on loopback (loopback traffic does not pass ``PREROUTING``: no loop). Undone by
deleting the rule first, then removing the sidecar; the sidecar carries the run's labels. Its image is drill's
bootstrapped base with Debian's ``iptables`` (``drill-netfault:<digest>``, built once, half a minute).
"""

from __future__ import annotations

import hashlib
import io
import tarfile
import time
from typing import Any

import docker
import docker.errors

from harness.adversity import docker_ops
from harness.adversity.base import AdversityError, FaultContext, kind
from harness.adversity.spec import AdversitySpec
from harness.stack.docker_api import run_labels

LISTEN = 15999  # the proxy's port inside the service's namespace
PROXY = """
import asyncio, os
PORT, LISTEN, DELAY = int(os.environ["PORT"]), int(os.environ["LISTEN"]), float(os.environ["DELAY_S"])
async def pipe(r, w):
    try:
        while data := await r.read(65536):
            w.write(data); await w.drain()
    finally:
        w.close()
async def handle(cr, cw):
    await asyncio.sleep(DELAY)
    try:
        ur, uw = await asyncio.open_connection("127.0.0.1", PORT)
    except OSError:
        cw.close(); return
    await asyncio.gather(pipe(cr, uw), pipe(ur, cw), return_exceptions=True)
async def main():
    server = await asyncio.start_server(handle, "0.0.0.0", LISTEN)
    print("delay proxy: listening", flush=True)
    await server.serve_forever()
asyncio.run(main())
"""


def image(client: docker.DockerClient) -> str:
    from harness.stack.images import base_tag, ensure_base

    base = ensure_base(client, lambda _m: None, force=False)
    tag = f"drill-netfault:{hashlib.sha256(f'{base_tag()}|iptables|v1'.encode()).hexdigest()[:16]}"
    try:
        client.images.get(tag)
        return tag
    except docker.errors.ImageNotFound:
        pass
    dockerfile = (f"FROM {base}\nRUN apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "
                  "--no-install-recommends iptables && rm -rf /var/lib/apt/lists/*\n").encode()
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        entry = tarfile.TarInfo("Dockerfile")
        entry.size = len(dockerfile)
        tar.addfile(entry, io.BytesIO(dockerfile))
    context.seek(0)
    try:
        client.images.build(fileobj=context, custom_context=True, tag=tag, pull=False, rm=True, forcerm=True,
                            labels={"io.drill.harness": "true"})
    except (docker.errors.BuildError, docker.errors.APIError) as exc:
        raise AdversityError(f"building {tag} (iptables from Debian) failed: {exc}") from exc
    return tag


class ServiceSlow:
    def __init__(self, spec: AdversitySpec, ctx: FaultContext) -> None:
        self.spec, self.ctx = spec, ctx
        self.target = f"{spec.service}:{spec.port} (+{(spec.latency or 0) * 1000:g} ms a connection)"
        self._sidecars: list[tuple[Any, str, str]] = []  # (sidecar, the service's container id, image)

    def _rule(self, op: str) -> list[str]:
        return ["iptables", "-t", "nat", op, "PREROUTING", "-p", "tcp", "--dport", str(self.spec.port),
                "-j", "REDIRECT", "--to-ports", str(LISTEN)]

    def start(self) -> None:
        client = self.ctx.docker()
        found = docker_ops.containers(client, self.ctx.run_id, f"compose-{self.spec.service}")
        if not found:
            raise AdversityError(f"no running service {self.spec.service!r} in this run's Compose project "
                                 f"(service-slow strikes a compose target's services)")
        tag = image(client)
        for container in found:
            sidecar = client.containers.run(
                tag, ["sh", "-c", " ".join(self._rule("-A")) + ' && exec python3 -c "$PROXY"'], detach=True,
                network_mode=f"container:{container.id}", cap_add=["NET_ADMIN"], cap_drop=["ALL"],
                environment={"PROXY": PROXY, "PORT": str(self.spec.port), "LISTEN": str(LISTEN),
                             "DELAY_S": str(self.spec.latency or 0)},
                labels=run_labels(self.ctx.run_id, f"delay-proxy-{self.spec.service}"), mem_limit="64m")
            self._sidecars.append((sidecar, container.id, tag))
            deadline = time.monotonic() + 20
            while b"delay proxy: listening" not in sidecar.logs():
                sidecar.reload()
                if sidecar.status == "exited" or time.monotonic() > deadline:
                    raise AdversityError(f"the delay proxy beside {container.name} did not start: "
                                         f"{sidecar.logs().decode(errors='replace')[-300:]}")
                time.sleep(0.1)

    def stop(self) -> None:
        while self._sidecars:
            sidecar, service_id, tag = self._sidecars.pop()
            # The rule first: a REDIRECT to a proxy that is gone would refuse every connection to the service.
            try:
                removed = sidecar.exec_run(self._rule("-D"))[0] == 0
            except docker.errors.APIError:
                removed = False
            if not removed:  # the sidecar died: the namespace is the service's, so a fresh container can delete it
                try:
                    self.ctx.docker().containers.run(tag, self._rule("-D"), network_mode=f"container:{service_id}",
                                                     cap_add=["NET_ADMIN"], cap_drop=["ALL"], remove=True,
                                                     labels=run_labels(self.ctx.run_id, f"delay-proxy-{self.spec.service}"))
                except docker.errors.DockerException:
                    pass  # the service is gone too: nothing left to redirect
            try:
                sidecar.remove(force=True)
            except docker.errors.NotFound:
                pass

    def observations(self) -> dict[str, Any]:
        return {}


class ServicePartition:
    """Two named services cannot reach each other: iptables ``DROP`` rules in ``service``'s namespace for every
    address of ``peer`` (set and deleted by one-shot containers in that namespace; both ways are cut there)."""

    def __init__(self, spec: AdversitySpec, ctx: FaultContext) -> None:
        self.spec, self.ctx = spec, ctx
        self.target = f"{spec.service} <-> {spec.peer}"
        self._cut: list[tuple[str, str, str]] = []  # (the service's container id, a peer address, image)

    @staticmethod
    def _rules(op: str, address: str) -> str:
        return f"iptables {op} INPUT -s {address} -j DROP && iptables {op} OUTPUT -d {address} -j DROP"

    def _in(self, service_id: str, tag: str, script: str) -> None:
        self.ctx.docker().containers.run(tag, ["sh", "-c", script], network_mode=f"container:{service_id}", remove=True,
                                         cap_add=["NET_ADMIN"], cap_drop=["ALL"],
                                         labels=run_labels(self.ctx.run_id, f"partition-{self.spec.service}"))

    def start(self) -> None:
        client = self.ctx.docker()
        mine = docker_ops.containers(client, self.ctx.run_id, f"compose-{self.spec.service}")
        peers = docker_ops.containers(client, self.ctx.run_id, f"compose-{self.spec.peer}")
        if not mine or not peers:
            missing = self.spec.service if not mine else self.spec.peer
            raise AdversityError(f"no running service {missing!r} in this run's Compose project")
        addresses = sorted({a.ip for peer in peers for a in docker_ops.attachments(peer) if a.ip})
        tag = image(client)
        for container in mine:
            for address in addresses:
                try:
                    self._in(container.id, tag, self._rules("-I", address))
                except docker.errors.DockerException as exc:
                    raise AdversityError(f"cannot cut {container.name} from {address}: {exc}") from exc
                self._cut.append((container.id, address, tag))
        self.target = f"{self.spec.service} <-> {self.spec.peer} ({', '.join(addresses)})"

    def stop(self) -> None:
        while self._cut:
            service_id, address, tag = self._cut.pop()
            try:
                self._in(service_id, tag, self._rules("-D", address))
            except docker.errors.DockerException:
                pass  # the service is gone: its namespace and rules with it

    def observations(self) -> dict[str, Any]:
        return {}


@kind("service-partition")
def _service_partition(spec: AdversitySpec, ctx: FaultContext) -> ServicePartition:
    return ServicePartition(spec, ctx)


@kind("service-slow")
def _service_slow(spec: AdversitySpec, ctx: FaultContext) -> ServiceSlow:
    return ServiceSlow(spec, ctx)
