"""What every Docker target reads off its running services: the stack, the router, Prometheus, the traffic address.

A target mixes this in and sets ``_stack`` in ``prepare``; before that, asking for a part is a programming
error (ServiceFailed says so). Docker-free at import, so loading the catalogue loads no Docker client.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Generic, TypeVar

from harness.ports import Endpoint, ServiceFailed

if TYPE_CHECKING:
    from harness.stack.prometheus import PrometheusClient
    from harness.stack.router import RouterClient
    from harness.stack.services import ServiceStack
    from harness.stack.tee import TeeContainer

    S = TypeVar("S", bound=ServiceStack)
else:
    S = TypeVar("S")


class OnServiceStack(Generic[S]):
    _stack: S | None = None

    @property
    def stack(self) -> S:
        if self._stack is None:
            raise ServiceFailed("the stack is not started")
        return self._stack

    @property
    def router(self) -> RouterClient:
        if self.stack.router is None:
            raise ServiceFailed("the router is not started")
        return self.stack.router

    @property
    def metrics(self) -> PrometheusClient:
        if self.stack.prometheus is None:
            raise ServiceFailed("Prometheus is not started")
        return self.stack.prometheus

    @property
    def traffic_endpoint(self) -> Endpoint:
        return Endpoint("127.0.0.1", self.stack.router_port)

    def shadow_tee(self) -> TeeContainer:
        """The tee of a shadow stage, on this run's networks, from the role image (see harness/stack/tee.py)."""
        from harness.stack.tee import TeeContainer

        return TeeContainer(self.stack.run_id, self.stack.network, self.stack.edge, self.stack.images.model)
