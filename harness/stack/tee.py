"""The tee of a shadow stage as a container (harness/serving/tee_proxy.py in the role image), like the fault proxy.

It sits where the router's stable slot pointed: the router sends the stable slot's traffic to the tee, the
tee answers from the stable and copies each request to the candidate (and to a second stable instance,
the noise floor). It is on the run network (it reaches the model servers there) and on the edge network,
which carries its one published port: the records listener, on 127.0.0.1 only. The harness reads the
paired records there (harness.judge.tee_records), never at a container's address.
"""

from __future__ import annotations

from testcontainers.core.network import Network
from testcontainers.core.wait_strategies import LogMessageWaitStrategy

from harness.ports import Endpoint, ServiceFailed
from harness.stack.docker_api import container_ip, run_labels
from harness.stack.services import StackContainer, hardening, logs, stop

TEE_ALIAS = "stable-tee"
TEE_PORT = 8080
TEE_RECORDS_PORT = 9102


def tee_env(stable: Endpoint, candidate: Endpoint, secondary: Endpoint | None, predict_path: str, share: float = 1.0,
            queue: int = 256, workers: int = 4, copy_timeout: float = 2.0) -> dict[str, str]:
    """The tee's configuration (see harness/serving/tee_proxy.py)."""
    env = {"UPSTREAM": str(stable), "CANDIDATE": str(candidate), "MIRROR_PATHS": predict_path,
           "MIRROR_SHARE": f"{share:g}", "QUEUE": str(queue), "WORKERS": str(workers),
           "COPY_TIMEOUT": f"{copy_timeout:g}", "PORT": str(TEE_PORT), "RECORDS_PORT": str(TEE_RECORDS_PORT)}
    if secondary is not None:
        env["SECONDARY"] = str(secondary)
    return env


class TeeContainer:
    """Start, address and stop the tee of one run; labelled with the run so ``drill clean`` sweeps it."""

    def __init__(self, run_id: str, network: Network, edge: Network, image: str, startup_timeout: float = 20.0) -> None:
        self.run_id = run_id
        self.network = network
        self.edge = edge
        self.image = image
        self.startup_timeout = startup_timeout
        self._container: StackContainer | None = None

    def start(self, env: dict[str, str], publish_client_port: bool = False) -> tuple[Endpoint, Endpoint]:
        """(where the router sends the stable slot's traffic, the records endpoint on 127.0.0.1).
        ``publish_client_port`` also publishes the tee's client port on 127.0.0.1 (for tests without a router)."""
        self.stop()
        container = (StackContainer(self.image, name=f"drill-{self.run_id}-{TEE_ALIAS}")
                     .with_network(self.edge).publish_local(TEE_RECORDS_PORT)
                     .with_kwargs(entrypoint=["python3", "-u", "/opt/drill/tee_proxy.py"],
                                  labels=run_labels(self.run_id, "tee-proxy"), **hardening("128m", 128))
                     .waiting_for(LogMessageWaitStrategy("tee proxy: ")
                                  .with_startup_timeout(int(self.startup_timeout)).with_poll_interval(0.1)))
        if publish_client_port:
            container.publish_local(TEE_PORT)
        for key, value in env.items():
            container.with_env(key, value)
        self._container = container
        try:
            container.start()
        except Exception as exc:  # testcontainers' wait raises plain exceptions
            raise ServiceFailed(f"tee proxy did not start: {logs(container) or exc}") from exc
        self.network.connect(container.get_wrapped_container().id, network_aliases=[TEE_ALIAS])
        routed = Endpoint(container_ip(container.get_wrapped_container(), self.network.name), TEE_PORT)
        return routed, Endpoint("127.0.0.1", container.local_port(TEE_RECORDS_PORT))

    def client_endpoint(self) -> Endpoint:
        if self._container is None:
            raise ServiceFailed("the tee is not running")
        return Endpoint("127.0.0.1", self._container.local_port(TEE_PORT))

    def logs(self) -> str:
        return logs(self._container) if self._container is not None else ""

    def stop(self) -> None:
        container, self._container = self._container, None
        stop(container, timeout=2)
