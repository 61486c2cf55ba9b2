"""The MLflow stack of one run: the shared router and Prometheus, an MLflow server, pyfunc scoring servers.

It is :class:`harness.targets.builtin.stack.Stack` (network, HAProxy, Prometheus, labels, sweep) with two changes: an
MLflow tracking/registry server starts first (SQLite backend store file and artifact root on a labelled
volume; ``--serve-artifacts`` so clients upload and download through the server), and model slots run the
image's scoring server, which loads ``models:/NAME/VERSION`` through that server. Every container is hardened
like the rest (non-root, read-only root, no capabilities, no new privileges, memory and pids limits) and
publishes on 127.0.0.1 only. Scoring servers sit on the internal run network only (no egress); the MLflow
server, like the router, is published from the edge network and joined to the run network.

MLflow 3's server (uvicorn) answers 403 to a request whose ``Host`` it does not know, so it starts with
``--allowed-hosts`` naming exactly how it is reached: the service name, 127.0.0.1 (the published port, and the
weights upload inside its own container) and addresses of the run network (the scoring servers use its IP: this
engine's embedded DNS does not answer inside containers). MLflow 2 (``DRILL_MLFLOW_VERSION=2.x`` builds it) has no
such check and runs under gunicorn.

Big weights (``artifact_size``) change three sizes: the MLflow server spools uploads and downloads through a
temporary directory (its artifact proxy copies every file it receives or sends), so its ``TMPDIR`` is on the data
volume, not its 256 MB ``/tmp``; under MLflow 2, its gunicorn workers may spend as long on one request as a
scoring server may take to start (gunicorn's default kills a sync worker after 30 s; MLflow 3's uvicorn has no
such limit); and a scoring server's ``/tmp`` (where it downloads its version) and memory grow by the size.
"""

from __future__ import annotations

import os
from pathlib import Path

import docker
from testcontainers.core.wait_strategies import HttpWaitStrategy, LogMessageWaitStrategy

from harness.ports import SLOTS, ServiceFailed
from harness.stack.docker_api import container_ip, run_labels
from harness.stack.images import StackImages
from harness.stack.services import MODEL_PORT, StackContainer, hardening, packaged
from harness.targets.builtin.stack import Stack
from harness.targets.mlflow.image import MLFLOW_VERSION

MLFLOW_PORT = 5000
DATA_MOUNT = "/mlflow"
DEFAULT_BACKEND_STORE = f"sqlite:///{DATA_MOUNT}/mlflow.db"
# Set to a database URL the server's container can reach (postgresql://..., psycopg2) to use it instead of SQLite.
BACKEND_STORE_ENV = "DRILL_MLFLOW_BACKEND_STORE"
# MLflow 3 also starts a job runner (huey consumers, ~45 workers, for GenAI jobs a registry does not need): with it
# the server took over 1 GiB at rest and was killed at its limit; without it ~590 MiB with two workers, ~410 MiB with
# one. MLflow 2 ignores the variable.
SERVER_ENV = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
SERVER_MEMORY = "1536m"
# MLflow 3.17's server runs its ~70 schema migrations and imports far more than 2.22's before /health answers:
# 25 s at load average 3.5 here, over 90 s (a scoring server's default wait) at load average 15.
SERVER_STARTUP = 180.0


def allowed_hosts(subnet: str) -> list[str]:
    """The ``Host`` values MLflow 3 accepts here: ``mlflow:5000``, 127.0.0.1 on any port, the run network's
    addresses on 5000 (``172.20.0.0/16`` -> ``172.20.*:5000``; a prefix that is not whole octets widens to them)."""
    address, _, prefix = subnet.partition("/")
    octets = address.split(".")
    whole = max(1, min(3, int(prefix or "24") // 8))
    return [f"mlflow:{MLFLOW_PORT}", "127.0.0.1:*", f"{'.'.join(octets[:whole])}.*:{MLFLOW_PORT}"]


def server_command(version: str, backend_store: str, subnet: str, startup_timeout: float) -> list[str]:
    """``mlflow server`` for the image's MLflow: 3.x with ``--allowed-hosts`` (uvicorn), 2.x under gunicorn."""
    command = ["mlflow", "server", "--host", "0.0.0.0", "--port", str(MLFLOW_PORT),
               "--backend-store-uri", backend_store, "--serve-artifacts",
               "--artifacts-destination", f"{DATA_MOUNT}/artifacts"]
    if int(version.split(".")[0]) >= 3:
        # One uvicorn worker (async; the Flask handlers run in its thread pool): a second one re-imports MLflow in a
        # spawned process, 190 MiB more and ready later (25.3 s against 28.4 s side by side, load average 3.5).
        return [*command, "--workers", "1", "--allowed-hosts", ",".join(allowed_hosts(subnet))]
    return [*command, "--workers", "2", "--gunicorn-opts", f"--timeout {max(60, int(startup_timeout))}"]


class MlflowStack(Stack):
    def __init__(self, client: docker.DockerClient, images: StackImages, run_id: str, model: str,
                 startup_timeout: float = 90.0, model_env: dict[str, str] | None = None,
                 backend_store: str | None = None, artifact_size: int = 0) -> None:
        super().__init__(client, images, run_id, model, startup_timeout, model_env=model_env)
        self.artifact_size = artifact_size
        self.data_volume = f"drill-{run_id}-mlflow"
        self.mlflow_container: StackContainer | None = None
        self.mlflow_port = 0
        self.mlflow_ip = ""
        self.backend_store = os.environ.get(BACKEND_STORE_ENV) or backend_store or DEFAULT_BACKEND_STORE

    @property
    def tracking_uri(self) -> str:
        """Where the host reaches the MLflow server (published on 127.0.0.1)."""
        return f"http://127.0.0.1:{self.mlflow_port}"

    def start_mlflow(self) -> None:
        """The network, the data volume and the MLflow server, ready when its /health answers."""
        self.create_network()
        self.client.volumes.create(self.data_volume, labels=run_labels(self.run_id, "mlflow-data"))
        subnet = str(self.client.networks.get(self.network.id).attrs["IPAM"]["Config"][0]["Subnet"])
        command = server_command(MLFLOW_VERSION, self.backend_store, subnet, self.startup_timeout)
        # Like the router: published from the edge network, joined to the internal run network once up.
        container = (
            StackContainer(self.images.model, name=f"drill-{self.run_id}-mlflow")
            .with_network(self.edge)
            .publish_local(MLFLOW_PORT)
            .with_volume_mapping(self.data_volume, DATA_MOUNT, "rw")
            .with_tmpfs("/tmp", "rw,size=256m,mode=1777")
            .with_env("TMPDIR", DATA_MOUNT)  # the artifact proxy's copies: as big as the artifacts
            .with_envs(**SERVER_ENV)
            .with_kwargs(entrypoint=command, labels=run_labels(self.run_id, "mlflow"), **hardening(SERVER_MEMORY, 256))
            .waiting_for(HttpWaitStrategy(MLFLOW_PORT, "/health").with_startup_timeout(int(max(self.startup_timeout,
                                                                                               SERVER_STARTUP)))
                         .with_poll_interval(0.25))
        )
        self.mlflow_container = container
        self._start(container, "MLflow server")
        self.mlflow_port = container.local_port(MLFLOW_PORT)
        self.network.connect(container.get_wrapped_container().id, network_aliases=["mlflow"])
        # By address, not by the alias: this engine's embedded DNS does not answer inside containers.
        self.mlflow_ip = container_ip(container.get_wrapped_container(), self.network.name)

    def start_rest(self, stable_version: str) -> None:
        """Stable scoring server, router and Prometheus, in parallel (the MLflow server is up)."""
        from concurrent.futures import Future, ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=3) as pool:
            starts: list[Future[object]] = [pool.submit(self.start_model, "stable", stable_version),
                                            pool.submit(self.start_router),
                                            pool.submit(self.start_prometheus, packaged("prometheus.yml"))]
            for started in starts:
                started.result()

    def sync_registry(self, registry_root: Path) -> None:
        """Nothing to copy: scoring servers read the MLflow registry."""
        return

    def start_model(self, slot: str, ref: str) -> str:
        """A scoring server for ``ref`` (a version or an alias) in ``slot``; its IP once it serves."""
        if slot not in SLOTS:
            raise ServiceFailed(f"unknown slot {slot!r}; known: {', '.join(SLOTS)}")
        container = (
            StackContainer(self.images.model, name=f"drill-{self.run_id}-{slot}")
            .with_network(self.network)
            .with_network_aliases(slot)
            .with_envs(MODEL_NAME=self.model, MODEL_REF=ref, PORT=str(MODEL_PORT),
                       MLFLOW_TRACKING_URI=f"http://{self.mlflow_ip}:{MLFLOW_PORT}", MODEL_DIR="/tmp/model",
                       **self.model_env)
            .with_tmpfs("/tmp", f"rw,size={(128 << 20) + self.artifact_size},mode=1777")  # the downloaded version
            .with_kwargs(entrypoint=["python3", "-u", "/opt/drill/scoring_server.py"],
                         labels=run_labels(self.run_id, f"model-{slot}"),
                         **hardening(str((512 << 20) + self.artifact_size), 128))  # tmpfs counts as memory
            .waiting_for(LogMessageWaitStrategy("serving ")
                         .with_startup_timeout(int(self.startup_timeout)).with_poll_interval(0.1))
        )
        with self._lock:
            self.models[slot] = container
        self._start(container, f"scoring server {slot} (models:/{self.model}/{ref})")
        return container_ip(container.get_wrapped_container(), self.network.name)
