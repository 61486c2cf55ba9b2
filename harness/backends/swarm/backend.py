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
from dataclasses import replace
from typing import TYPE_CHECKING

import docker

from harness.errors import DrillError
from harness.ports import SLOTS, Endpoint, Rollout, ServiceFailed
from harness.spec.models import StrategySpec
from harness.stack import swarm_api
from harness.stack.docker_api import run_labels
from harness.stack.swarm_api import ServiceDef, ServiceInfo, TaskInfo, UpdatePolicy

if TYPE_CHECKING:
    from harness.backends.swarm.nodes import Layout
    from harness.backends.swarm.withhold import Withheld

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
                 extra_env: Mapping[str, str] | None = None, layout: Layout | None = None) -> None:
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
        self.layout = layout  # several nodes: tasks copy the registry from the file server; placement over nodes
        self.placement: dict[str, dict[str, int]] = {}  # the last converged replicas per slot, by node hostname
        self.lost: dict[str, str] = {}  # node id -> hostname of engines a drill stopped (brought back at close)
        self.placement_before: dict[str, dict[str, int]] | None = None  # replicas by node just before the first loss
        self.lost_at: float | None = None  # when the last one was stopped (monotonic): rescheduling is timed from it
        self.rescheduled_s: float | None = None  # node stopped -> every replica running again elsewhere
        self.withheld: Withheld | None = None  # nodes a drill cut off the registry, the model image removed

    def service(self, slot: str) -> str:
        _check_slot(slot)
        return swarm_api.swarm_name(self.run_id, slot)

    # ---- ports.Backend ----------------------------------------------------------------------
    def start(self, slot: str, version: str) -> Endpoint:
        """Create the slot's service (or update it to ``version``) and wait until every replica runs healthy."""
        name = self.service(slot)
        self.sync()
        relax = False
        failed_before: set[str] = set()
        if swarm_api.service_exists(self.client, name):
            failed_before = {t.id for t in self.tasks(slot) if t.state in _FAILED}
            swarm_api.service_update(self.client, name, {"MODEL_REF": version})
        else:
            spec = ServiceDef(
                name=name, image=self.image, command=MODEL_COMMAND,
                env={"MODEL_NAME": self.model, "MODEL_REF": version, "REGISTRY_DIR": self.registry_mount,
                     "PORT": str(MODEL_PORT), **self.extra_env},
                labels=run_labels(self.run_id, f"model-{slot}"), network=self.network, aliases=[slot],
                replicas=self.configured[slot], health_cmd=HEALTH_CMD, volume=self.volume,
                volume_target=self.registry_mount)
            if self.layout is not None:
                spec = _on_nodes(spec, slot, self.layout)
                relax = slot == "stable" and bool(spec.constraints)
            swarm_api.service_create(self.client, spec, self.rolling, self.rollback_policy)
        self._started.add(slot)
        self.wait_converged(slot, self.startup_timeout, version=version, fail_fast=True, failed_before=failed_before)
        if relax:
            # Stable is kept off the candidate's node only for its first placement. A constraint binds every later
            # task too: with it, replicas rescheduled after a node loss all landed on the one node left (the
            # manager), the candidate's node being excluded even once the candidate was gone. Without it, Swarm's
            # spread puts them on the nodes with the fewest stable replicas. The running tasks stay where they are.
            swarm_api.service_placement(self.client, name, (), "node.id")
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

    def replicas_by_node(self) -> dict[str, dict[str, int]] | None:
        """Where each slot's replicas ran when it last converged (node hostname -> replicas); None on one node."""
        return {slot: dict(nodes) for slot, nodes in self.placement.items()} if self.layout is not None else None

    def replicas_by_node_before(self) -> dict[str, dict[str, int]] | None:
        """Where each slot's replicas ran just before a drill stopped a node; None if none was stopped."""
        return self.placement_before

    def nodes_of(self, slot: str) -> dict[str, int]:
        """Running replicas of the slot per node hostname, now."""
        from harness.backends.swarm.nodes import by_node, read_layout

        return by_node(read_layout(self.client), self.tasks(slot))

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
                       fail_fast: bool = False, failed_before: set[str] | None = None) -> ServiceInfo:
        """Until the service runs its desired replicas, all healthy (and all on ``version`` if given), and no
        update or rollback is under way. ``fail_fast``: a task of the awaited version that fails or is rejected
        (a node without the image) ends the wait, naming the node and the image; tasks in ``failed_before``
        (default: those failed when the wait starts) are history, not news."""
        name = self.service(slot)
        deadline = time.monotonic() + timeout
        last = "no tasks yet"
        while True:
            info = self.info(slot)
            tasks = self.tasks(slot)
            if failed_before is None:
                failed_before = {t.id for t in tasks if t.state in _FAILED}
            # A task on a node the drill stopped still reads "running" until Swarm marks the node down: not counted.
            running = [t for t in tasks if t.desired == "running" and t.state == "running" and t.node_id not in self.lost]
            wanted = [t for t in running if version is None or t.env_ref == version]
            if fail_fast and (dead := [t for t in tasks if t.state in _FAILED and t.id not in failed_before
                                       and (version is None or t.env_ref == version)]):
                raise ServiceFailed(self._failed_task(name, version, dead[0]))
            if info.update_state in ("paused", "rollback_paused"):
                raise ServiceFailed(f"{name}: update {info.update_state}: {info.update_message}")
            settled = info.update_state in (None, *_TERMINAL_UPDATE)
            if settled and len(wanted) == info.replicas and len(running) == info.replicas:
                if self.layout is not None:
                    self.placement[slot] = {h: n for h, n in self.nodes_of(slot).items() if h not in self.lost.values()}
                if self.lost_at is not None and self.rescheduled_s is None:
                    self.rescheduled_s = round(time.monotonic() - self.lost_at, 2)
                return info
            last = (f"{len(wanted)}/{info.replicas} replicas running {version or 'the current spec'}, "
                    f"{len(running)} running in all, update {info.update_state or 'none'}")
            if time.monotonic() > deadline:
                raise ServiceFailed(f"{name} did not converge within {timeout:g}s: {last}")
            time.sleep(0.2)


    # ---- a node going away (drill clusters: the engine's container is stopped) ---------------
    def lose_node(self, slot: str) -> str:
        """Stop the engine of a worker that runs replicas of ``slot`` (never the manager the harness talks to)."""
        from harness.backends.swarm import cluster
        from harness.backends.swarm.nodes import read_layout

        layout = read_layout(self.client)
        if layout.cluster is None:
            raise ServiceFailed("losing a node needs a cluster made by `drill cluster up` (its engines are containers "
                                "this host can stop); on another swarm, stop the node yourself")
        workers = {n.id: n for n in layout.nodes if n.role == "worker" and n.state == "ready"}
        holding = sorted({t.node_id for t in self.tasks(slot)
                          if t.desired == "running" and t.state == "running" and t.node_id in workers})
        if not holding:
            raise ServiceFailed(f"no worker node runs a replica of {slot} (placement: {self.nodes_of(slot)})")
        node = workers[str(holding[0])]
        count = sum(1 for t in self.tasks(slot) if t.node_id == node.id and t.state == "running")
        if self.placement_before is None:
            self.placement_before = {s: self.nodes_of(s) for s in SLOTS if s in self._started}
        cluster.stop_node(cluster.host_engine(), layout.cluster, node.hostname)
        self.lost[node.id] = node.hostname
        self.lost_at, self.rescheduled_s = time.monotonic(), None
        return f"engine {node.hostname} stopped ({count} {slot} replica(s) on it)"

    def withhold_image(self, slot: str) -> list[str]:
        """On every ready node running no replica of ``slot`` (where Swarm would put a replacement), remove the model
        image and refuse the registry (``withhold``); the hostnames. ``give_back_image`` undoes it."""
        from harness.backends.swarm import withhold
        from harness.backends.swarm.nodes import read_layout

        layout = read_layout(self.client)
        if layout.cluster is None or self.layout is None:
            raise ServiceFailed("a node without the image needs a cluster made by `drill cluster up` (its engines are "
                                "containers on this host); on another swarm, cut a node off the registry yourself")
        holding = {t.node_id for t in self.tasks(slot) if t.desired == "running" and t.state == "running"}
        spare = sorted(n.hostname for n in layout.nodes
                       if n.state == "ready" and n.id not in holding and n.id not in self.lost)
        if not spare:
            raise ServiceFailed(f"every ready node runs a replica of {slot} ({self.nodes_of(slot)}): no node left for a "
                                "replacement to land on without the image (`drill cluster up --nodes 3`)")
        from harness.backends.swarm.cluster import host_engine

        host = host_engine()
        if self.withheld is None:
            self.withheld = withhold.Withheld(layout.cluster, withhold.registry_ip(host, layout.cluster))
        self.withheld.strike(spare, self.image)
        return spare

    def give_back_image(self) -> None:
        if self.withheld is not None:
            self.withheld.give_back()

    def restore_nodes(self) -> None:
        """Start the engines the drill stopped again (they rejoin the swarm by themselves)."""
        from harness.backends.swarm import cluster
        from harness.backends.swarm.nodes import read_layout

        if not self.lost:
            return
        name = read_layout(self.client).cluster
        host = cluster.host_engine()
        for hostname in self.lost.values():
            if name is not None:
                cluster.start_node(host, name, hostname)
        self.lost.clear()

    def _failed_task(self, name: str, version: str | None, task: TaskInfo) -> str:
        error = task.error or task.message
        if self.layout is None:
            where = ""
        elif "No such image" in error:  # the node has not got the image and could not pull it
            where = (f" on node {self._hostname(task.node_id)}: node {self._hostname(task.node_id)} lacks image "
                     f"{self.image} and could not pull it (the run's images come from {self.layout.registry})")
        else:
            where = f" on node {self._hostname(task.node_id)} (image {self.image})"
        logs = "" if "No such image" in error else swarm_api.service_logs(self.client, name)
        return (f"{name} ({version or 'current'}): task {task.state}{where}: {error}"
                + (f"; last log lines: {logs}" if logs else ""))

    def _hostname(self, node_id: str | None) -> str:
        from harness.backends.swarm.nodes import read_layout

        try:
            return read_layout(self.client).hostname(node_id)
        except DrillError:
            return node_id or "?"


def _on_nodes(spec: ServiceDef, slot: str, layout: Layout) -> ServiceDef:
    """A model service on several nodes: the registry copied from the file server into a tmpfs, placed by slot."""
    from harness.backends.swarm.nodes import FETCH_THEN_SERVE, TASK_REGISTRY

    own = layout.candidate_node()
    if own is None:
        constraints: tuple[str, ...] = ()
    else:
        constraints = (f"node.id=={own.id}",) if slot == "candidate" else (f"node.id!={own.id}",)
    return replace(spec, command=FETCH_THEN_SERVE, env={**spec.env, "REGISTRY_DIR": TASK_REGISTRY}, volume=None,
                   tmpfs="/tmp", constraints=constraints, spread="node.id" if slot == "stable" else None)


def policy_of(strategy: StrategySpec) -> UpdatePolicy:
    """A drill's ``swarm-update`` strategy as Swarm's update_config (``--update-failure-action rollback`` ...)."""
    return UpdatePolicy(parallelism=strategy.parallelism, delay_s=strategy.delay, failure_action=strategy.failure_action,
                        monitor_s=strategy.monitor, max_failure_ratio=0.0, order=strategy.order)


def _check_slot(slot: str) -> None:
    if slot not in SLOTS:
        raise ServiceFailed(f"unknown slot {slot!r}; known: {', '.join(SLOTS)}")
