"""Model versions as Docker Swarm services with replicas (a ``ports.Backend``), plus Swarm's own moves.

Each slot is a replicated service (``drill-<run>-stable``: 2 replicas or more, ``drill-<run>-candidate``: 1 or
more) on the run's attachable overlay network, with the slot's name as its network alias, a health check
on the model server's ``/healthz`` (``python3`` + urllib: the image has no curl), and the registry volume
mounted read-only. Services use DNS round robin: the router's pool for a slot resolves ``tasks.<slot>``
through Swarm's DNS (see ``harness/serving/haproxy-swarm.cfg``), so it follows the orchestrator's tasks, not
container IPs. The endpoint ``start`` returns is that pool, on the router's loopback.

Beyond the Backend seam it offers the orchestrator's own moves, for the ``swarm.*`` runbook actions and the
``swarm-update`` strategy: a rolling update with ``failure_action: rollback``, ``docker service rollback``,
scale, and waiting for convergence.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

import docker

from harness.errors import DrillError
from harness.ports import SLOTS, Endpoint, Rollout, ServiceFailed
from harness.specs import StrategySpec
from harness.stack import swarm_api
from harness.stack.docker_api import run_labels
from harness.stack.swarm_api import ServiceDef, ServiceInfo, TaskInfo, UpdatePolicy

MODEL_PORT = 8080
POOL_PORTS = {"stable": 8101, "candidate": 8102}  # the router's pool per slot (haproxy-swarm.cfg)
ROUTER_CONFIG = "haproxy-swarm.cfg"
HEALTH_CMD = ["CMD", "python3", "-c",
              f"import urllib.request; urllib.request.urlopen('http://127.0.0.1:{MODEL_PORT}/healthz', timeout=2)"]
MODEL_COMMAND = ["python3", "-u", "/opt/drill/model_server.py"]
DEFAULT_REPLICAS = {"stable": 2, "candidate": 1}
# Task states (Swarm's words) in which a task will never serve.
_FAILED = ("failed", "rejected")
_TERMINAL_UPDATE = ("completed", "rollback_completed")


class SwarmBackend:
    kind = "swarm"

    def __init__(self, client: docker.DockerClient, run_id: str, image: str, model: str, network: str,
                 volume: str, registry_mount: str, sync: Callable[[], None],
                 replicas: Mapping[str, int] = DEFAULT_REPLICAS, startup_timeout: float = 60.0,
                 rolling: UpdatePolicy | None = None, rollback_policy: UpdatePolicy | None = None,
                 extra_env: Mapping[str, str] | None = None) -> None:
        self.client = client
        self.run_id = run_id
        self.image = image
        self.model = model
        self.network = network
        self.volume = volume
        self.registry_mount = registry_mount
        self.sync = sync  # copies the host-side registry into the volume the tasks read
        self.extra_env = dict(extra_env or {})  # for every model server (the drill's background noise)
        self.configured = {slot: int(replicas.get(slot, DEFAULT_REPLICAS[slot])) for slot in SLOTS}
        if self.configured["stable"] < 2 or self.configured["candidate"] < 1:
            raise DrillError(f"replicas {self.configured}: stable needs 2 or more, candidate 1 or more")
        self.startup_timeout = startup_timeout
        self.rolling = rolling or UpdatePolicy()
        # Rolling back: one task at a time, each new one started before its old one stops (no capacity dip).
        # Not parallelism 0: with start-first, Swarm then replaced the healthy tasks too and once left a
        # replica short (moby/moby#34111, #43081).
        self.rollback_policy = rollback_policy or UpdatePolicy(parallelism=1, delay_s=0.0, failure_action="pause",
                                                              monitor_s=1.0, order="start-first")
        self._started: set[str] = set()

    def service(self, slot: str) -> str:
        _check_slot(slot)
        return f"drill-{self.run_id}-{slot}"

    # ---- ports.Backend ----------------------------------------------------------------------
    def start(self, slot: str, version: str) -> Endpoint:
        """Create the slot's service (or update it to ``version``) and wait until every replica runs healthy."""
        name = self.service(slot)
        self.sync()
        if swarm_api.service_exists(self.client, name):
            swarm_api.service_update(self.client, name, {"MODEL_REF": version})
        else:
            spec = ServiceDef(
                name=name, image=self.image, command=MODEL_COMMAND,
                env={"MODEL_NAME": self.model, "MODEL_REF": version, "REGISTRY_DIR": self.registry_mount,
                     "PORT": str(MODEL_PORT), **self.extra_env},
                labels=run_labels(self.run_id, f"model-{slot}"), network=self.network, aliases=[slot],
                replicas=self.configured[slot], health_cmd=HEALTH_CMD, volume=self.volume,
                volume_target=self.registry_mount)
            swarm_api.service_create(self.client, spec, self.rolling, self.rollback_policy)
        self._started.add(slot)
        self.wait_converged(slot, self.startup_timeout, version=version, fail_fast=True)
        return Endpoint("127.0.0.1", POOL_PORTS[slot])

    def stop(self, slot: str) -> None:
        """Remove the service; its tasks get SIGTERM and finish in-flight requests. Waits until they are gone."""
        name = self.service(slot)
        swarm_api.service_remove(self.client, name)
        self._started.discard(slot)
        deadline = time.monotonic() + 20.0
        while time.monotonic() < deadline:
            if swarm_api.containers_of(self.client, f"com.docker.swarm.service.name={name}", running=True) == 0:
                return
            time.sleep(0.1)
        raise ServiceFailed(f"the tasks of {name} did not stop within 20s")

    def running(self, slot: str) -> bool:
        try:
            return any(t.state == "running" for t in self.tasks(slot))
        except DrillError:
            return False

    def address(self, slot: str) -> Endpoint | None:
        return Endpoint("127.0.0.1", POOL_PORTS[slot]) if slot in self._started else None

    def replicas(self) -> dict[str, int] | None:
        return dict(self.configured)

    # ---- the orchestrator's own moves -------------------------------------------------------
    def tasks(self, slot: str) -> list[TaskInfo]:
        try:
            return swarm_api.service_tasks(self.client, self.service(slot))
        except swarm_api.SwarmError as exc:
            raise ServiceFailed(str(exc)) from exc

    def info(self, slot: str) -> ServiceInfo:
        try:
            return swarm_api.service_info(self.client, self.service(slot))
        except swarm_api.SwarmError as exc:
            raise ServiceFailed(str(exc)) from exc

    def rolling_update(self, slot: str, version: str, policy: UpdatePolicy | None = None) -> None:
        """Start a rolling update of the slot's service to ``version`` (returns at once; Swarm rolls it)."""
        self.sync()
        swarm_api.service_update(self.client, self.service(slot), {"MODEL_REF": version}, policy or self.rolling,
                                  self.rollback_policy)

    def rollout(self, slot: str) -> Rollout:
        info = self.info(slot)
        return Rollout(info.update_state, info.update_message)

    def rollback(self, slot: str) -> str:
        """``docker service rollback``; a no-op when Swarm is already rolling back by itself. Says which."""
        state = self.info(slot).update_state
        if state in ("rollback_started", "rollback_completed"):
            return f"Swarm is rolling back by itself already ({state})"
        swarm_api.service_rollback(self.client, self.service(slot))
        return "rollback started"

    def scale(self, slot: str, replicas: int) -> None:
        minimum = 2 if slot == "stable" else 1
        if replicas < minimum:
            raise ServiceFailed(f"{slot} needs at least {minimum} replicas, asked for {replicas}")
        swarm_api.service_scale(self.client, self.service(slot), replicas)
        self.configured[slot] = replicas

    def serving_ref(self, slot: str) -> str | None:
        return self.info(slot).env.get("MODEL_REF")

    def wait_converged(self, slot: str, timeout: float, version: str | None = None,
                       fail_fast: bool = False) -> ServiceInfo:
        """Until the service runs its desired replicas, all healthy (and all on ``version`` if given), and no
        update or rollback is under way. ``fail_fast``: a failed task of the awaited version ends the wait."""
        name = self.service(slot)
        deadline = time.monotonic() + timeout
        last = "no tasks yet"
        while True:
            info = self.info(slot)
            tasks = self.tasks(slot)
            running = [t for t in tasks if t.desired == "running" and t.state == "running"]
            wanted = [t for t in running if version is None or t.env_ref == version]
            if fail_fast and (dead := [t for t in tasks if t.state in _FAILED and (version is None or t.env_ref == version)]):
                logs = swarm_api.service_logs(self.client, name)
                raise ServiceFailed(f"{name} ({version or 'current'}): task {dead[0].state}: "
                                    f"{dead[0].error or dead[0].message}" + (f"; last log lines: {logs}" if logs else ""))
            if info.update_state in ("paused", "rollback_paused"):
                raise ServiceFailed(f"{name}: update {info.update_state}: {info.update_message}")
            settled = info.update_state in (None, *_TERMINAL_UPDATE)
            if settled and len(wanted) == info.replicas and len(running) == info.replicas:
                return info
            last = (f"{len(wanted)}/{info.replicas} replicas running {version or 'the current spec'}, "
                    f"{len(running)} running in all, update {info.update_state or 'none'}")
            if time.monotonic() > deadline:
                raise ServiceFailed(f"{name} did not converge within {timeout:g}s: {last}")
            time.sleep(0.2)


def policy_of(strategy: StrategySpec) -> UpdatePolicy:
    """A drill's ``swarm-update`` strategy as Swarm's update_config (``--update-failure-action rollback`` ...)."""
    return UpdatePolicy(parallelism=strategy.parallelism, delay_s=strategy.delay, failure_action=strategy.failure_action,
                        monitor_s=strategy.monitor, max_failure_ratio=0.0, order=strategy.order)


def _check_slot(slot: str) -> None:
    if slot not in SLOTS:
        raise ServiceFailed(f"unknown slot {slot!r}; known: {', '.join(SLOTS)}")
