"""The Docker Swarm backend: model versions as replicated Swarm services, behind ``ports.Backend``.

``open_backend`` joins (or makes) the engine's swarm for one run, puts the run's router and Prometheus
containers on the run's overlay network and returns the session and the backend; the built-in target
uses it when a drill runs with ``--backend swarm`` (or says ``backend: swarm``). On a swarm of several
nodes, ``plan_stack`` (before the stack starts) and the pieces of ``nodes`` make the run reach every node.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from harness.backends.host import ModelHost, Opened
from harness.errors import BackendUnavailable
from harness.ports import Progress

if TYPE_CHECKING:
    import docker

    from harness.backends.swarm.nodes import Layout


def multi_node(client: docker.DockerClient) -> Layout | None:
    """The layout of a manager of several nodes; None on one node (or no swarm yet: the single-node path)."""
    from harness.backends.swarm import nodes
    from harness.stack import swarm_api

    info = swarm_api.swarm_info(client)
    if not (info.active and info.manager):
        return None
    layout = nodes.read_layout(client)
    return layout if layout.multi else None


def require_nodes(engine: str, drill: str, wanted: int, layout: Layout | None) -> None:
    """A drill needing ``wanted`` nodes (``nodes:``) on fewer: an environment problem (exit 3), said before
    anything starts, with what to do. ``engine``: the Docker API the run talks to."""
    have = sum(1 for n in layout.nodes if n.state == "ready") if layout is not None else 1
    if have >= wanted:
        return
    where = (f"the engine at {engine} is one node" if layout is None
             else f"the swarm of {engine} has {have} of its {len(layout.nodes)} nodes ready")
    raise BackendUnavailable(
        f"drill {drill} needs a swarm of {wanted} nodes; {where}: start a cluster with "
        f"`drill cluster up --nodes {wanted}` and run with the DOCKER_HOST it prints")


def plan_stack(host: ModelHost, progress: Progress) -> None:
    """Before the stack starts: refuse a drill needing more nodes than the swarm has; on a manager of several nodes,
    publish the router and Prometheus on the manager's port block this host reaches on 127.0.0.1, and accept the
    runtime API from where this host's connections come."""
    from harness.backends.swarm import nodes

    stack = host.stack
    layout = multi_node(stack.client)
    require_nodes(stack.client.api.base_url, host.spec.name, host.spec.nodes, layout)
    if layout is None:
        return
    nodes.require_reachable(layout)
    assert layout.ports is not None
    stack.publish_block = nodes.free_ports(stack.client, layout.ports)
    stack.admin_from = layout.api_from
    progress(f"swarm of {len(layout.nodes)} nodes ({', '.join(sorted(n.hostname for n in layout.nodes))}); "
             f"model image through {layout.registry}")


def _files_server(stack: Any, network: str) -> None:
    """The run's registry for tasks on any node: the volume (on the manager) served, as one tar, on the overlay."""
    from harness.backends.swarm.nodes import FILES_ALIAS, FILES_SERVER
    from harness.stack import swarm_api
    from harness.stack.docker_api import run_labels
    from harness.stack.services import REGISTRY_MOUNT, hardening

    container = stack.client.containers.run(
        stack.images.model, FILES_SERVER, name=f"drill-{stack.run_id}-model-files", detach=True,
        network=stack.network.name, labels=run_labels(stack.run_id, "model-files"),
        volumes={stack.volume_name: {"bind": REGISTRY_MOUNT, "mode": "ro"}}, **hardening("64m", 32))
    swarm_api.connect_container(stack.client, network, container.id, [FILES_ALIAS])


def open_backend(host: ModelHost, progress: Progress) -> Opened:
    """The run's swarm session and backend; the stack's router and Prometheus joined to the overlay network.
    Closing it removes the run's Swarm resources (and leaves a swarm the run made)."""
    from harness.backends.swarm.backend import SwarmBackend, policy_of
    from harness.backends.swarm.session import SwarmSession
    from harness.stack import swarm_api
    from harness.stack.services import REGISTRY_MOUNT

    stack, spec = host.stack, host.spec
    require_nodes(stack.client.api.base_url, spec.name, spec.nodes, multi_node(stack.client))  # a target that planned nothing
    session = SwarmSession(stack.client, stack.run_id)
    session.open(progress)
    try:
        for role, container in (("router", stack.router_container), ("prometheus", stack.prometheus_container)):
            if container is not None:
                swarm_api.connect_container(stack.client, session.network, container.get_wrapped_container().id, [role])
        image, layout = stack.images.model, multi_node(stack.client)
        if layout is not None:
            from harness.backends.swarm import nodes

            if getattr(stack, "publish_block", None) is None:
                raise BackendUnavailable("this target's stack was not planned for several nodes (the backend's "
                                         "stack_planner); run it on a single-node swarm")
            assert layout.registry is not None
            image = nodes.publish_image(stack.client, image, layout.registry)
            progress(f"model image pushed to {layout.registry}")
            _files_server(stack, session.network)
        backend = SwarmBackend(
            stack.client, stack.run_id, image, spec.model, session.network, stack.volume_name, REGISTRY_MOUNT,
            sync=host.sync or (lambda: None),
            replicas={"stable": spec.replicas.stable, "candidate": spec.replicas.candidate},
            rolling=policy_of(spec.strategy), extra_env=stack.model_env, layout=layout)
        session.on_close.extend((backend.give_back_image, backend.restore_nodes))
    except BaseException:
        session.close()  # the caller never sees this session: leave the engine as found here
        raise
    return Opened(backend, session.close)
