"""The services every Docker target shares: the run's two networks, the router and Prometheus.

The run network is internal (model servers get no egress and reach nothing but the stack); the edge
network only carries the published ports of the router and Prometheus. The router is HAProxy with
its runtime API answering the harness alone (``haproxy.cfg``); two things are set per target: the
router's health check path, and what Prometheus scrapes. Their config goes in through the environment
into a tmpfs, so the containers keep a read-only root. Also here: the hardened container type and the
small container helpers (logs, running, stop, wait until serving) the backends use.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from importlib import resources
from typing import Any

import docker
import docker.errors
from testcontainers.core.container import DockerContainer
from testcontainers.core.network import Network
from testcontainers.core.wait_strategies import HttpWaitStrategy

from harness.ports import ServiceFailed
from harness.stack.docker_api import run_labels
from harness.stack.images import StackImages
from harness.stack.prometheus import PrometheusClient
from harness.stack.router import RouterClient

MODEL_PORT = 8080
REGISTRY_MOUNT = "/registry"  # where model servers read a file registry (the run's volume)
ROUTER_PORT = 8000
ROUTER_ADMIN_PORT = 9999
ROUTER_METRICS_PORT = 8405
PROMETHEUS_PORT = 9090


def hardening(memory: str, pids: int, user: str | None = "65534:65534", read_only: bool = True) -> dict[str, Any]:
    """Keyword arguments for a container with no privileges: non-root, read-only root, no capabilities."""
    kw: dict[str, Any] = {
        "read_only": read_only,
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges:true"],
        "mem_limit": memory,
        "pids_limit": pids,
    }
    if user is not None:
        kw["user"] = user
    return kw


class StackContainer(DockerContainer):
    """A testcontainers container that publishes ports on 127.0.0.1 only."""

    def publish_local(self, port: int, bind: tuple[str, int | None] = ("127.0.0.1", None)) -> StackContainer:
        # testcontainers' with_bind_ports binds every interface; docker-py takes (ip, None) for a random port.
        self.ports[f"{port}/tcp"] = bind  # type: ignore[assignment]
        return self

    def with_tmpfs(self, path: str, options: str) -> StackContainer:
        # testcontainers' with_tmpfs_mount passes a bare size, which this engine rejects.
        self.tmpfs[path] = options
        return self

    def get_container_host_ip(self) -> str:
        return "127.0.0.1"  # what we publish on; "localhost" may resolve to ::1 first

    def local_port(self, port: int) -> int:
        return int(self.get_exposed_port(port))

FAULT_PROXY_ALIAS = "candidate-fault"
FAULT_PROXY_PORT = 8080
FAULT_PROXY_METRICS_PORT = 9101
_HEALTH_LINE = "option httpchk GET /healthz"


_SERVER_TIMEOUT_LINE = "timeout server 30s"


def server_timeout(client_timeout: float) -> float:
    """The router's server timeout for a load whose requests time out after ``client_timeout`` s: early enough that
    the client gets the router's 504 (stamped with the slot) before it gives up on its own."""
    return max(0.1, min(30.0, round(0.8 * client_timeout, 3)))


def haproxy_config(health_path: str, client_timeout: float = 5.0) -> str:
    text = packaged("haproxy.cfg")
    if _HEALTH_LINE not in text or _SERVER_TIMEOUT_LINE not in text:
        raise ServiceFailed("haproxy.cfg has no health check or server timeout line to set for the run")
    text = text.replace(_SERVER_TIMEOUT_LINE, f"timeout server {server_timeout(client_timeout) * 1000:.0f}ms")
    return text.replace(_HEALTH_LINE, f"option httpchk GET {health_path}")


def packaged(name: str) -> str:
    """A serving file shipped with the package (harness/serving)."""
    return resources.files("harness.serving").joinpath(name).read_text()


def prometheus_config(port: int, metrics_path: str | None) -> str:
    """Prometheus's config as JSON (which is YAML): the router, the fault proxy, the models if they have metrics."""
    jobs: list[dict[str, Any]] = [
        {"job_name": "router", "static_configs": [{"targets": [f"router:{ROUTER_METRICS_PORT}"]}]},
        {"job_name": "fault-proxy", "static_configs": [{"targets": [f"{FAULT_PROXY_ALIAS}:{FAULT_PROXY_METRICS_PORT}"],
                                                       "labels": {"slot": "candidate"}}]},
    ]
    if metrics_path is not None:
        jobs.append({"job_name": "model", "metrics_path": metrics_path, "static_configs": [
            {"targets": [f"stable:{port}"], "labels": {"slot": "stable"}},
            {"targets": [f"candidate:{port}"], "labels": {"slot": "candidate"}},
        ]})
    config = {"global": {"scrape_interval": "1s", "scrape_timeout": "900ms", "evaluation_interval": "1s"},
              "scrape_configs": jobs}
    return json.dumps(config, indent=1)


def _from_env(path: str, command: str) -> list[str]:
    """Write $DRILL_CONFIG to ``path`` (a tmpfs), then exec the command: config in, root read-only."""
    return ["sh", "-c", f'printf "%s" "$DRILL_CONFIG" > {path} && exec {command}']


class ServiceStack:
    """Network, router and Prometheus of one run. ``close`` is the target's (a sweep by the run's label)."""

    def __init__(self, client: docker.DockerClient, images: StackImages, run_id: str, startup_timeout: float = 30.0) -> None:
        self.client = client
        self.images = images
        self.run_id = run_id
        self.startup_timeout = startup_timeout
        # As the built-in stack: the run network is internal (the team's servers get no egress and reach
        # nothing but the stack); the edge network only carries the router's and Prometheus's published ports.
        self.network = Network(docker_network_kw={"labels": run_labels(run_id, "network"), "internal": True})
        self.edge = Network(docker_network_kw={"labels": run_labels(run_id, "edge-network")})
        self.router_container: StackContainer | None = None
        self.prometheus_container: StackContainer | None = None
        self.router: RouterClient | None = None
        self.prometheus: PrometheusClient | None = None
        self.router_port = 0
        self.router_on_run_network = threading.Event()  # set once the router can probe the run network
        # On a cluster's manager (harness.backends.swarm.nodes): publish on the manager's ports from this block,
        # which the cluster publishes to this host's 127.0.0.1; and where the harness's connections come from.
        self.publish_block: Iterator[int] | None = None
        self.admin_from: str | None = None
        self.client_timeout = 5.0  # the load's request timeout (the drill's traffic.timeout): the router times out first

    def _bind(self) -> tuple[str, int | None]:
        if self.publish_block is None:
            return ("127.0.0.1", None)
        try:
            return ("0.0.0.0", next(self.publish_block))  # inside the manager's engine; this host sees 127.0.0.1
        except StopIteration:
            raise ServiceFailed("the cluster's published port block is used up (too many runs on it at once)") from None

    def create_network(self) -> None:
        self.network.create()
        self.edge.create()

    def _edge_gateway(self) -> str:
        attrs = self.client.networks.get(self.edge.id).attrs
        return str(attrs["IPAM"]["Config"][0]["Gateway"])

    def start_router(self, health_path: str = "/healthz", extra_configs: tuple[str, ...] = ()) -> None:
        """HAProxy from haproxy.cfg (health checks on ``health_path``), plus packaged files under /opt/drill."""
        command = "haproxy -db -f /tmp/haproxy.cfg" + "".join(f" -f /opt/drill/{name}" for name in extra_configs)
        container = (
            StackContainer(self.images.router, name=f"drill-{self.run_id}-router")
            .with_network(self.edge)
            .publish_local(ROUTER_PORT, self._bind()).publish_local(ROUTER_ADMIN_PORT, self._bind())
            .publish_local(ROUTER_METRICS_PORT, self._bind())
            .with_env("DRILL_CONFIG", haproxy_config(health_path, self.client_timeout))
            .with_env("ADMIN_FROM", self.admin_from or self._edge_gateway())  # the runtime API answers the harness alone
            .with_tmpfs("/tmp", "rw,size=16m,mode=1777").with_tmpfs("/run/haproxy", "rw,size=1m,mode=1777")
            .with_kwargs(entrypoint=_from_env("/tmp/haproxy.cfg", command),
                         labels=run_labels(self.run_id, "router"), **hardening("128m", 256))
            .waiting_for(self._http_ready(ROUTER_METRICS_PORT, "/healthz"))
        )
        self.router_container = container
        self._start(container, "router")
        self.network.connect(container.get_wrapped_container().id, network_aliases=["router"])
        self.router_on_run_network.set()
        self.router_port = container.local_port(ROUTER_PORT)
        self.router = RouterClient("127.0.0.1", container.local_port(ROUTER_ADMIN_PORT))

    def start_prometheus(self, config: str) -> None:
        """Prometheus with ``config`` (YAML or JSON text): see ``prometheus_config`` and ``packaged``."""
        command = ("prometheus --config.file=/tmp/prometheus.yml --storage.tsdb.path=/prometheus "
                   "--web.listen-address=:9090 --storage.tsdb.retention.time=2h")
        container = (
            StackContainer(self.images.prometheus, name=f"drill-{self.run_id}-prometheus")
            .with_network(self.edge)
            .publish_local(PROMETHEUS_PORT, self._bind())
            .with_env("DRILL_CONFIG", config)
            .with_tmpfs("/prometheus", "rw,size=256m,mode=1777").with_tmpfs("/tmp", "rw,size=1m,mode=1777")
            .with_kwargs(entrypoint=_from_env("/tmp/prometheus.yml", command),
                         labels=run_labels(self.run_id, "prometheus"), **hardening("512m", 256))
            .waiting_for(self._http_ready(PROMETHEUS_PORT, "/-/ready"))
        )
        self.prometheus_container = container
        self._start(container, "prometheus")
        self.network.connect(container.get_wrapped_container().id, network_aliases=["prometheus"])
        self.prometheus = PrometheusClient(f"http://127.0.0.1:{container.local_port(PROMETHEUS_PORT)}")

    def probe(self, host: str, port: int, path: str, budget: float) -> tuple[bool, str]:
        """GET path at host:port on the run network, from inside the router (see ``exec_probe``); waits for
        the router to join the run network first (it may be starting in parallel)."""
        started = time.monotonic()
        if not self.router_on_run_network.wait(budget) or self.router_container is None:
            return False, "waiting for the router to start"
        return exec_probe(self.router_container, host, port, path, max(0.1, budget - (time.monotonic() - started)))

    def _http_ready(self, port: int, path: str) -> HttpWaitStrategy:
        return HttpWaitStrategy(port, path).with_startup_timeout(int(self.startup_timeout)).with_poll_interval(0.1)

    def _start(self, container: StackContainer, what: str) -> None:
        try:
            container.start()
        except Exception as exc:  # testcontainers raises plain exceptions; one ServiceFailed names the service
            raise ServiceFailed(f"{what} did not become ready: {logs(container) or exc}") from exc


def logs(container: StackContainer) -> str:
    try:
        out, err = container.get_logs()
    except Exception:  # noqa: BLE001 - the container may be gone already; logs are only a courtesy here
        return ""
    return (out + err).decode(errors="replace").strip()[-800:]


def running(container: StackContainer | None) -> bool:
    if container is None:
        return False
    try:
        wrapped = container.get_wrapped_container()
        wrapped.reload()
    except (docker.errors.DockerException, AttributeError):
        return False
    return bool(wrapped.status == "running")


def stop(container: StackContainer | None, timeout: int = 5) -> None:
    """Graceful stop (SIGTERM: in-flight requests finish), then remove. A missing container is fine."""
    if container is None:
        return
    try:
        wrapped = container.get_wrapped_container()
        wrapped.stop(timeout=timeout)
        wrapped.remove(force=True)
    except (docker.errors.NotFound, AttributeError):
        pass


# Run inside the router's container (the Docker API's exec): the harness process itself never connects to a
# container's address, which neither Docker Desktop's nor a remote engine's host can reach (docs/engines.md).
_PROBE = """
import http.client, sys, time
host, port, path, budget = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
deadline, last = time.monotonic() + budget, "no answer"
while True:
    try:
        conn = http.client.HTTPConnection(host, port, timeout=2)
        conn.request("GET", path)
        status = conn.getresponse().status
        conn.close()
        if 200 <= status < 400:
            print("serving", status)
            sys.exit(0)
        last = "GET %s answered %d" % (path, status)
    except Exception as exc:
        last = "GET %s: %s" % (path, type(exc).__name__)
    if time.monotonic() >= deadline:
        print(last)
        sys.exit(1)
    time.sleep(0.1)
"""


def exec_probe(prober: StackContainer, host: str, port: int, path: str, budget: float) -> tuple[bool, str]:
    """GET ``path`` at host:port from inside ``prober`` (a container on the same network with python3), for up
    to ``budget`` seconds: (serving?, what it last saw). Only the Docker API is used from here."""
    try:
        code, output = prober.get_wrapped_container().exec_run(
            ["python3", "-c", _PROBE, host, str(port), path, f"{budget:g}"], stdout=True, stderr=True)
    except (docker.errors.DockerException, AttributeError) as exc:
        return False, f"probe failed: {exc}"
    text = output.decode(errors="replace").strip() if isinstance(output, bytes) else str(output)
    return code == 0, text.splitlines()[-1] if text else f"probe exit {code}"


Probe = Callable[[float], tuple[bool, str]]


def wait_serving(container: StackContainer, probe: Probe, timeout: float, what: str) -> None:
    """Until ``probe`` (given a time budget) says the server answers its health path; ServiceFailed with the
    server's logs if it exits or times out. The probe runs where the server's network is (``exec_probe``)."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    wrapped = container.get_wrapped_container()
    while True:
        wrapped.reload()
        if wrapped.status in ("exited", "dead"):
            code = wrapped.attrs.get("State", {}).get("ExitCode")
            raise ServiceFailed(f"{what} exited (code {code}) before serving: {logs(container) or 'no output'}")
        left = deadline - time.monotonic()
        if left <= 0:
            break
        ok, last = probe(min(1.0, left))
        if ok:
            return
        time.sleep(0.05)  # a probe that failed at once (the exec refused) must not spin on the Docker API
    raise ServiceFailed(f"{what} not serving after {timeout:g}s ({last}): {logs(container) or 'no output'}")
