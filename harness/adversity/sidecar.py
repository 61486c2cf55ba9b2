"""service-slow: a delay proxy in a named service's own network namespace, for a compose target's stack.

This kernel has no ``tc netem``, so the delay is a sidecar: a container sharing the service's network
namespace (``network_mode: container:<id>``, ``NET_ADMIN`` only), whose iptables ``REDIRECT`` sends
connections arriving for the service's port to a small proxy that waits ``latency`` per connection and then
forwards to the real port on loopback (loopback traffic does not pass ``PREROUTING``: no loop). Undone by
deleting the rule first, then removing the sidecar; the sidecar carries the run's labels. Its image and its
rule are ``netfault``'s (shared with ``firewall``).
"""

from __future__ import annotations

import time
from typing import Any

import docker.errors

from harness.adversity import docker_ops, netfault
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


class ServiceSlow:
    def __init__(self, spec: AdversitySpec, ctx: FaultContext) -> None:
        self.spec, self.ctx = spec, ctx
        self.target = f"{spec.service}:{spec.port} (+{(spec.latency or 0) * 1000:g} ms a connection)"
        self._sidecars: list[tuple[Any, str, str]] = []  # (sidecar, the service's container id, image)
        self.rule = netfault.Rule("nat", "PREROUTING", f"-p tcp --dport {spec.port} -j REDIRECT --to-ports {LISTEN}")
        self.role = f"delay-proxy-{spec.service}"

    def start(self) -> None:
        found = docker_ops.service_containers(self.ctx, self.spec.service, "service-slow")
        client = self.ctx.docker()
        tag = netfault.image(client)
        for container in found:
            sidecar = client.containers.run(
                tag, ["sh", "-c", self.rule.insert() + ' && exec python3 -c "$PROXY"'], detach=True,
                network_mode=f"container:{container.id}", cap_add=["NET_ADMIN"], cap_drop=["ALL"],
                environment={"PROXY": PROXY, "PORT": str(self.spec.port), "LISTEN": str(LISTEN),
                             "DELAY_S": str(self.spec.latency or 0)},
                labels=run_labels(self.ctx.run_id, self.role), mem_limit="64m")
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
                removed = sidecar.exec_run(["sh", "-c", self.rule.delete()])[0] == 0
            except docker.errors.APIError:
                removed = False
            try:
                if not removed:  # the sidecar died: the namespace is the service's, so a fresh container can delete it
                    netfault.undo_in_namespace(self.ctx, service_id, tag, self.rule.delete(), self.role)
            finally:
                try:
                    sidecar.remove(force=True)
                except docker.errors.NotFound:
                    pass

    def observations(self) -> dict[str, Any]:
        return {}


@kind("service-slow")
def _service_slow(spec: AdversitySpec, ctx: FaultContext) -> ServiceSlow:
    return ServiceSlow(spec, ctx)
