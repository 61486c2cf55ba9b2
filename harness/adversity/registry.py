"""registry-slow / registry-down: the model registry slow to answer, or not answering, on the way back.

The built-in file registry has no server: the harness reads and writes its files itself, so the way to
it is the registry's own API (``ports.ModelRegistry``). The fault stands in front of that API on the
target (every call is delayed by ``latency``, bounded by the step's deadline as a client's timeout would
be, or refused with a RegistryError) and is taken away at the end. On the MLflow target registry-down
pauses the MLflow server's container (``docker pause``): its REST API stops answering for real, and the
MLflow client's own timeouts and retries meet it; it is unpaused at the end.
"""

from __future__ import annotations

import threading
from typing import Any

from harness.adversity import docker_ops
from harness.adversity.base import AdversityError, FaultContext, kind
from harness.adversity.spec import AdversitySpec
from harness.ports import RegistryError
from harness.runbook.retry import current_attempt

CALLS = ("versions", "aliases", "resolve", "set_alias", "promote", "restore_previous", "check_deployable",
         "record_rollback", "history")


class FaultyRegistry:
    """A ModelRegistry in front of the real one: each call delayed (``slow``) or refused (``down``)."""

    def __init__(self, inner: Any, mode: str, latency: float) -> None:
        self.inner, self.mode, self.latency = inner, mode, latency
        self.calls = 0
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        value = getattr(self.inner, name)
        if name not in CALLS or not callable(value):
            return value

        def call(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                self.calls += 1
            if self.mode == "down":
                raise RegistryError(f"registry unavailable: {name} refused (adversity registry-down)")
            current_attempt().sleep(self.latency)  # a client's wait, cut short by the step's deadline
            return value(*args, **kwargs)

        return call


def _swap(target: Any, registry: Any) -> None:
    """Put ``registry`` where the target keeps its registry (an attribute, or behind a read-only property)."""
    try:
        target.registry = registry
    except AttributeError:
        if not hasattr(target, "_registry"):
            raise AdversityError(f"target {getattr(target, 'name', '?')} has no registry to stand in front of") from None
        target._registry = registry


class RegistryFault:
    def __init__(self, spec: AdversitySpec, ctx: FaultContext) -> None:
        self.spec, self.ctx = spec, ctx
        self.mode = "down" if spec.kind == "registry-down" else "slow"
        self.pause = self.mode == "down" and getattr(ctx.target, "name", "") == "mlflow"
        self.target = "MLflow server container (paused)" if self.pause else f"registry API ({self.mode})"
        self._real: Any = None
        self._faulty: FaultyRegistry | None = None
        self._paused: Any = None

    def start(self) -> None:
        if self.pause:
            self._paused = docker_ops.one(self.ctx.docker(), self.ctx.run_id, "mlflow")
            docker_ops.pause(self._paused)
            return
        self._real = self.ctx.target.registry
        self._faulty = FaultyRegistry(self._real, self.mode, self.spec.latency or 0.0)
        _swap(self.ctx.target, self._faulty)

    def stop(self) -> None:
        if self._paused is not None:
            docker_ops.unpause(self._paused)
            self._paused = None
        if self._real is not None:
            _swap(self.ctx.target, self._real)
            self._real = None

    def observations(self) -> dict[str, Any]:
        return {"calls": self._faulty.calls} if self._faulty is not None else {}


@kind("registry-slow")
def _slow(spec: AdversitySpec, ctx: FaultContext) -> RegistryFault:
    return RegistryFault(spec, ctx)


@kind("registry-down")
def _down(spec: AdversitySpec, ctx: FaultContext) -> RegistryFault:
    return RegistryFault(spec, ctx)
