"""The Docker Swarm part of the one Docker adapter: swarm membership, overlay networks, services and their
tasks. Only ``harness.stack`` talks to docker-py; the Swarm backend asks this module."""

from __future__ import annotations

from dataclasses import dataclass

import docker
import docker.errors
import docker.types
from docker.models.services import Service

from harness.errors import BackendUnavailable
from harness.ports import ServiceFailed
from harness.stack.docker_api import LABEL_HARNESS, LABEL_RUN
from harness.stack.docker_api import explain as _explain

SWARM_NETWORKS = ("docker_gwbridge", "ingress")  # what `docker swarm init` creates and `leave` may leave behind
MAX_NAME = 63  # Swarm refuses longer service and network names ("name must be 63 characters or fewer")


def swarm_name(run_id: str, suffix: str) -> str:
    """``drill-<run id>-<suffix>``; for a run id too long for Swarm (a drill name over ~23 characters), the run id
    cut short and made unique again by a hash of the whole. Resources are found by label, never by this name."""
    import hashlib

    name = f"drill-{run_id}-{suffix}"
    if len(name) <= MAX_NAME:
        return name
    digest = hashlib.sha256(run_id.encode()).hexdigest()[:6]
    keep = MAX_NAME - len(f"drill--{digest}-{suffix}")
    return f"drill-{run_id[:keep].rstrip('-')}-{digest}-{suffix}"


class SwarmError(ServiceFailed):
    """The engine refused a Swarm operation (leave, a service create/update/rollback, an overlay network)."""


@dataclass(frozen=True)
class SwarmInfo:
    state: str  # inactive | pending | active | error | locked
    manager: bool
    labels: dict[str, str]

    @property
    def active(self) -> bool:
        return self.state == "active"

    @property
    def harness_made(self) -> bool:
        """The swarm was initialised by the harness for a run (it labels the swarm's spec)."""
        return self.labels.get(LABEL_HARNESS) == "true"


def swarm_info(client: docker.DockerClient) -> SwarmInfo:
    try:
        info = client.info()["Swarm"]
        labels: dict[str, str] = {}
        if info.get("LocalNodeState") == "active" and info.get("ControlAvailable"):
            client.swarm.reload()
            labels = dict(client.swarm.attrs.get("Spec", {}).get("Labels") or {})
    except docker.errors.APIError as exc:
        raise SwarmError(f"cannot read the engine's swarm state: {_explain(exc)}") from exc
    return SwarmInfo(str(info.get("LocalNodeState") or "inactive"), bool(info.get("ControlAvailable")), labels)


def swarm_init(client: docker.DockerClient, advertise_addr: str = "127.0.0.1") -> None:
    """A single-node swarm listening on the loopback only, labelled as the harness's."""
    try:
        client.swarm.init(advertise_addr=advertise_addr, listen_addr=f"{advertise_addr}:2377",
                          labels={LABEL_HARNESS: "true"})
    except docker.errors.APIError as exc:
        raise BackendUnavailable(f"docker swarm init failed: {_explain(exc)}") from exc


def swarm_leave(client: docker.DockerClient) -> list[str]:
    """Leave the swarm (force: a single manager) and remove the networks Swarm made. Returns what was removed."""
    try:
        client.swarm.leave(force=True)
    except docker.errors.APIError as exc:
        if "not part of a swarm" not in str(exc):
            raise SwarmError(f"docker swarm leave failed: {_explain(exc)}") from exc
    removed = []
    for name in SWARM_NETWORKS:
        for network in client.networks.list(names=[name]):
            if network.name != name:  # names= matches substrings
                continue
            try:
                network.remove()
                removed.append(name)
            except docker.errors.NotFound:
                pass
            except docker.errors.APIError as exc:
                raise SwarmError(f"could not remove Swarm's {name} network: {_explain(exc)}") from exc
    return removed


def harness_swarm_runs(client: docker.DockerClient) -> set[str]:
    """The runs that have services or overlay networks on the swarm (a removed network may linger a moment)."""
    if not swarm_info(client).active:
        return set()
    selector = {"label": f"{LABEL_HARNESS}=true"}
    try:
        labelled = [s.attrs["Spec"].get("Labels") or {} for s in client.services.list(filters=selector)]
        labelled += [n.attrs.get("Labels") or {} for n in client.networks.list(filters={**selector, "driver": "overlay"})]
    except docker.errors.APIError as exc:
        raise SwarmError(f"cannot list the harness's services and networks: {_explain(exc)}") from exc
    return {labels.get(LABEL_RUN, "?") for labels in labelled}


def create_overlay(client: docker.DockerClient, name: str, labels: dict[str, str]) -> str:
    """An attachable, internal overlay network: plain containers such as the router can join it, and the model
    tasks on it get no egress (like the docker backend's internal run network). Returns its id."""
    try:
        network = client.networks.create(name, driver="overlay", attachable=True, internal=True, labels=labels,
                                         check_duplicate=True)
    except docker.errors.APIError as exc:
        raise SwarmError(f"could not create overlay network {name}: {_explain(exc)}") from exc
    return str(network.id)


def connect_container(client: docker.DockerClient, network: str, container_id: str, aliases: list[str]) -> None:
    try:
        client.networks.get(network).connect(container_id, aliases=aliases)
    except docker.errors.APIError as exc:
        raise SwarmError(f"could not attach container {container_id[:12]} to {network}: {_explain(exc)}") from exc


@dataclass(frozen=True)
class ServiceDef:
    """What a model service runs: plain values, turned into a docker-py service spec here."""

    name: str
    image: str
    command: list[str]
    env: dict[str, str]
    labels: dict[str, str]
    network: str
    aliases: list[str]
    replicas: int
    health_cmd: list[str]
    volume: str | None = None
    volume_target: str = "/registry"
    memory_bytes: int = 128 * 1024 * 1024
    stop_grace_s: float = 5.0
    health_interval_s: float = 0.5
    health_timeout_s: float = 3.0  # a python3 check on a busy 2-core machine can take over a second
    health_retries: int = 3
    health_start_s: float = 10.0
    constraints: tuple[str, ...] = ()  # Swarm placement constraints ("node.id!=..."): multi-node only
    spread: str | None = None  # a placement preference: spread the replicas over this ("node.id")
    tmpfs: str | None = None  # a tmpfs mounted here (a multi-node task's copy of the registry)


@dataclass(frozen=True)
class UpdatePolicy:
    """Swarm's update_config / rollback_config: how a service update rolls and what a failure does."""

    parallelism: int = 1
    delay_s: float = 1.0
    failure_action: str = "rollback"  # rollback | pause | continue
    monitor_s: float = 5.0
    max_failure_ratio: float = 0.0
    order: str = "start-first"  # start-first | stop-first


@dataclass(frozen=True)
class TaskInfo:
    id: str
    state: str  # new ... starting, running, complete, failed, shutdown, rejected
    desired: str
    message: str
    error: str
    exit_code: int | None
    container_id: str | None
    env_ref: str | None  # the MODEL_REF the task runs
    node_id: str | None = None  # the swarm node the task was scheduled on


@dataclass(frozen=True)
class ServiceInfo:
    name: str
    replicas: int
    env: dict[str, str]
    update_state: str | None  # updating | paused | completed | rollback_started | rollback_paused | rollback_completed
    update_message: str
    has_previous: bool


_NS = 1_000_000_000


def _update_config(policy: UpdatePolicy, rollback: bool = False) -> docker.types.UpdateConfig:
    cls = docker.types.RollbackConfig if rollback else docker.types.UpdateConfig
    failure = "pause" if rollback and policy.failure_action == "rollback" else policy.failure_action
    return cls(parallelism=policy.parallelism, delay=int(policy.delay_s * _NS), failure_action=failure,
               monitor=int(policy.monitor_s * _NS), max_failure_ratio=policy.max_failure_ratio, order=policy.order)


def service_create(client: docker.DockerClient, spec: ServiceDef, update: UpdatePolicy, rollback: UpdatePolicy) -> str:
    from docker.types import EndpointSpec, Healthcheck, Mount, NetworkAttachmentConfig, Resources, RestartPolicy, ServiceMode

    mounts = [Mount(spec.volume_target, spec.volume, type="volume", read_only=True)] if spec.volume else []
    if spec.tmpfs:
        mounts.append(Mount(spec.tmpfs, None, type="tmpfs", tmpfs_size=64 * 1024 * 1024))
    placement: dict[str, object] = {}
    if spec.constraints:
        placement["constraints"] = list(spec.constraints)
    if spec.spread:
        placement["preferences"] = [("spread", spec.spread)]
    try:
        service = client.services.create(
            spec.image, command=spec.command, name=spec.name, env=[f"{k}={v}" for k, v in spec.env.items()],
            labels=spec.labels, container_labels=spec.labels, mode=ServiceMode("replicated", replicas=spec.replicas),
            networks=[NetworkAttachmentConfig(spec.network, aliases=spec.aliases)],
            # DNS round robin: the router resolves tasks.<alias> itself (no IPVS virtual IP needed on the node).
            endpoint_spec=EndpointSpec(mode="dnsrr"),
            healthcheck=Healthcheck(test=spec.health_cmd, interval=int(spec.health_interval_s * _NS),
                                    timeout=int(spec.health_timeout_s * _NS),
                                    retries=spec.health_retries, start_period=int(spec.health_start_s * _NS)),
            mounts=mounts, user="65534:65534", read_only=True, cap_drop=["ALL"], **placement,
            resources=Resources(mem_limit=spec.memory_bytes),
            # Docker's default: a task that ends for any reason is replaced, so the replica count holds.
            restart_policy=RestartPolicy(condition="any", delay=_NS, max_attempts=0),
            stop_grace_period=int(spec.stop_grace_s * _NS),
            update_config=_update_config(update), rollback_config=_update_config(rollback, rollback=True),
        )
    except docker.errors.APIError as exc:
        raise SwarmError(f"docker service create {spec.name} failed: {_explain(exc)}") from exc
    return str(service.id)


def _service(client: docker.DockerClient, name: str) -> Service:
    try:
        return client.services.get(name)
    except docker.errors.NotFound as exc:
        raise SwarmError(f"no service {name}") from exc
    except docker.errors.APIError as exc:
        raise SwarmError(f"cannot read service {name}: {_explain(exc)}") from exc


def service_exists(client: docker.DockerClient, name: str) -> bool:
    try:
        client.services.get(name)
    except docker.errors.NotFound:
        return False
    except docker.errors.APIError as exc:
        if "not a swarm manager" in str(exc):
            return False
        raise SwarmError(f"cannot read service {name}: {_explain(exc)}") from exc
    return True


def service_info(client: docker.DockerClient, name: str) -> ServiceInfo:
    service = _service(client, name)
    spec = service.attrs["Spec"]
    env = dict(e.split("=", 1) for e in spec["TaskTemplate"]["ContainerSpec"].get("Env") or [] if "=" in e)
    status = service.attrs.get("UpdateStatus") or {}
    replicas = int(spec.get("Mode", {}).get("Replicated", {}).get("Replicas", 0))
    return ServiceInfo(name, replicas, env, status.get("State"), str(status.get("Message", "")),
                       bool(service.attrs.get("PreviousSpec")))


def service_tasks(client: docker.DockerClient, name: str) -> list[TaskInfo]:
    service = _service(client, name)
    try:
        tasks = service.tasks()
    except docker.errors.APIError as exc:
        raise SwarmError(f"cannot list the tasks of {name}: {_explain(exc)}") from exc
    out = []
    for task in tasks:
        status = task.get("Status", {})
        container = status.get("ContainerStatus", {})
        env = task.get("Spec", {}).get("ContainerSpec", {}).get("Env") or []
        ref = next((e.split("=", 1)[1] for e in env if e.startswith("MODEL_REF=")), None)
        out.append(TaskInfo(task["ID"], str(status.get("State", "")), str(task.get("DesiredState", "")),
                            str(status.get("Message", "")), str(status.get("Err", "")),
                            container.get("ExitCode"), container.get("ContainerID"), ref, task.get("NodeID")))
    return out


def service_update(client: docker.DockerClient, name: str, env: dict[str, str],
                   update: UpdatePolicy | None = None, rollback: UpdatePolicy | None = None) -> None:
    """Change the service's environment (a new model ref): Swarm rolls its tasks by the update policy."""
    service = _service(client, name)
    current = service.attrs["Spec"]["TaskTemplate"]["ContainerSpec"].get("Env") or []
    merged = dict(e.split("=", 1) for e in current if "=" in e)
    merged.update(env)
    kwargs: dict[str, object] = {"env": [f"{k}={v}" for k, v in merged.items()]}
    if update is not None:
        kwargs["update_config"] = _update_config(update)
    if rollback is not None:
        kwargs["rollback_config"] = _update_config(rollback, rollback=True)
    try:
        service.update(**kwargs)
    except docker.errors.APIError as exc:
        raise SwarmError(f"docker service update {name} failed: {_explain(exc)}") from exc


def service_placement(client: docker.DockerClient, name: str, constraints: tuple[str, ...], spread: str | None) -> None:
    """Replace the service's placement only. Swarm restarts no task that still satisfies the new constraints (checked
    on Engine 20.10: the same task ids before and after), so a laxer placement binds only tasks scheduled later."""
    service = _service(client, name)
    spec = service.attrs["Spec"]
    placement: dict[str, object] = {"Constraints": list(constraints)}
    if spread:
        placement["Preferences"] = [{"Spread": {"SpreadDescriptor": spread}}]
    spec["TaskTemplate"]["Placement"] = placement
    api = client.api
    try:
        # The spec as stored, changed in Placement only. docker-py's update_service(fetch_current_spec=True) reads it
        # with the defaults filled in (DNSConfig {} for none): a change of the task spec, and every task was replaced.
        response = api._post_json(api._url("/services/{0}/update", service.id), data=spec, params={"version": service.version})
        api._raise_for_status(response)
    except docker.errors.APIError as exc:
        raise SwarmError(f"docker service update --constraint-rm {name} failed: {_explain(exc)}") from exc


def service_rollback(client: docker.DockerClient, name: str) -> None:
    """`docker service rollback`: the server-side rollback to the service's previous spec."""
    service = _service(client, name)
    if not service.attrs.get("PreviousSpec"):
        raise SwarmError(f"service {name} has no previous spec to roll back to")
    api = client.api
    try:
        # docker-py has no argument for it; the Engine API's rollback=previous ignores the body's spec.
        response = api._post_json(api._url("/services/{0}/update", service.id), data=service.attrs["Spec"],
                                  params={"version": service.version, "rollback": "previous"})
        api._raise_for_status(response)
    except docker.errors.APIError as exc:
        raise SwarmError(f"docker service rollback {name} failed: {_explain(exc)}") from exc


def service_scale(client: docker.DockerClient, name: str, replicas: int) -> None:
    service = _service(client, name)
    try:
        service.scale(replicas)
    except docker.errors.APIError as exc:
        raise SwarmError(f"docker service scale {name}={replicas} failed: {_explain(exc)}") from exc


def service_remove(client: docker.DockerClient, name: str) -> None:
    try:
        client.services.get(name).remove()
    except docker.errors.NotFound:
        pass
    except docker.errors.APIError as exc:
        raise SwarmError(f"docker service rm {name} failed: {_explain(exc)}") from exc


def service_logs(client: docker.DockerClient, name: str, tail: int = 20) -> str:
    try:
        chunks = client.services.get(name).logs(stdout=True, stderr=True, tail=tail)
        return b"".join(chunks).decode(errors="replace").strip()[-800:]
    except docker.errors.APIError:
        return ""  # logs are a courtesy in an error message


def containers_of(client: docker.DockerClient, selector: str, running: bool = False) -> int:
    """Containers with a label (``running``: only those still running)."""
    filters: dict[str, str] = {"label": selector}
    if running:
        filters["status"] = "running"
    try:
        return len(client.containers.list(all=not running, filters=filters))
    except docker.errors.APIError as exc:
        raise SwarmError(f"cannot list containers labelled {selector}: {_explain(exc)}") from exc
