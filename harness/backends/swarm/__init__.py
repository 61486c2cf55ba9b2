"""The Docker Swarm backend: model versions as replicated Swarm services, behind ``ports.Backend``.

``open_backend`` joins (or makes) the engine's swarm for one run, puts the run's router and Prometheus
containers on the run's overlay network and returns the session and the backend; the built-in target
uses it when a drill runs with ``--backend swarm`` (or says ``backend: swarm``).
"""

from __future__ import annotations

from harness.backends import ModelHost, Opened
from harness.ports import Progress


def open_backend(host: ModelHost, progress: Progress) -> Opened:
    """The run's swarm session and backend; the stack's router and Prometheus joined to the overlay network.
    Closing it removes the run's Swarm resources (and leaves a swarm the run made)."""
    from harness.backends.swarm.backend import SwarmBackend, policy_of
    from harness.backends.swarm.session import SwarmSession
    from harness.stack import swarm_api
    from harness.stack.services import REGISTRY_MOUNT

    stack, spec = host.stack, host.spec
    session = SwarmSession(stack.client, stack.run_id)
    session.open(progress)
    try:
        for role, container in (("router", stack.router_container), ("prometheus", stack.prometheus_container)):
            if container is not None:
                swarm_api.connect_container(stack.client, session.network, container.get_wrapped_container().id, [role])
        backend = SwarmBackend(
            stack.client, stack.run_id, stack.images.model, spec.model, session.network, stack.volume_name, REGISTRY_MOUNT,
            sync=host.sync or (lambda: None),
            replicas={"stable": spec.replicas.stable, "candidate": spec.replicas.candidate},
            rolling=policy_of(spec.strategy), extra_env=stack.model_env)
    except BaseException:
        session.close()  # the caller never sees this session: leave the engine as found here
        raise
    return Opened(backend, session.close)
