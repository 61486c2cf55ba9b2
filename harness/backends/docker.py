"""The ``docker`` backend: model servers as containers, one per slot, started by the target's stack.

The built-in target's demo server reads the file registry from the run's volume (``sync`` copies it there
before each start); MLflow's scoring server loads its version from the MLflow registry (nothing to copy).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from harness.backends.host import ModelHost, Opened
from harness.ports import Endpoint, Progress

if TYPE_CHECKING:
    from harness.targets.builtin.stack import Stack


class ContainerBackend:
    kind = "docker"

    def __init__(self, stack: Stack, sync: Callable[[], None] | None = None) -> None:
        self.stack = stack
        self.sync = sync  # copies the registry into the volume before each start; None: nothing to copy
        self._addresses: dict[str, Endpoint] = {}

    def start(self, slot: str, version: str) -> Endpoint:
        from harness.stack.services import MODEL_PORT

        if self.sync is not None:
            self.sync()  # the server reads what the registry says now
        endpoint = Endpoint(self.stack.start_model(slot, version), MODEL_PORT)
        self._addresses[slot] = endpoint
        return endpoint

    def adopt(self, slot: str) -> Endpoint:
        """A slot the stack started itself (in parallel with the router): its address, as if ``start`` had run."""
        from harness.stack.services import MODEL_PORT

        endpoint = self._addresses[slot] = Endpoint(self.stack.model_ip(slot), MODEL_PORT)
        return endpoint

    def stop(self, slot: str) -> None:
        self._addresses.pop(slot, None)
        self.stack.stop_model(slot)

    def running(self, slot: str) -> bool:
        return self.stack.model_running(slot)

    def address(self, slot: str) -> Endpoint | None:
        return self._addresses.get(slot)

    def replicas(self) -> dict[str, int] | None:
        return None


def open_backend(host: ModelHost, progress: Progress) -> Opened:
    return Opened(ContainerBackend(host.stack, host.sync))
