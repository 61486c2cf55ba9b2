"""Readiness without connecting to a container: ``wait_serving`` polls a probe (in a drill: an exec inside the
router's container, ``ServiceStack.probe``) and watches the container through the Docker API only."""

from __future__ import annotations

from typing import Any

import pytest

from harness.ports import ServiceFailed
from harness.stack.services import wait_serving


class FakeWrapped:
    def __init__(self, statuses: list[str]) -> None:
        self.statuses = statuses
        self.status = statuses[0]
        self.attrs: dict[str, Any] = {"State": {"ExitCode": 3}}

    def reload(self) -> None:
        self.status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]


class FakeContainer:
    """A container as testcontainers hands it out (a fake injected where the team's server would be)."""

    def __init__(self, statuses: list[str]) -> None:
        self.wrapped = FakeWrapped(statuses)

    def get_wrapped_container(self) -> FakeWrapped:
        return self.wrapped

    def get_logs(self) -> tuple[bytes, bytes]:
        return b"loading model\n", b""


def test_ready_once_the_probe_says_so() -> None:
    answers = [(False, "GET /healthz: ConnectionRefusedError"), (False, "GET /healthz answered 503"), (True, "serving 200")]
    budgets: list[float] = []

    def probe(budget: float) -> tuple[bool, str]:
        budgets.append(budget)
        return answers.pop(0)

    wait_serving(FakeContainer(["running"]), probe, 30.0, "model server stable")  # type: ignore[arg-type]
    assert answers == [] and all(0 < b <= 1.0 for b in budgets)


def test_a_server_that_exits_fails_with_its_logs() -> None:
    with pytest.raises(ServiceFailed, match=r"exited \(code 3\).*loading model"):
        wait_serving(FakeContainer(["running", "exited"]), lambda _b: (False, "no answer"), 30.0, "model server")  # type: ignore[arg-type]


def test_a_server_that_never_answers_times_out_with_what_the_probe_saw() -> None:
    with pytest.raises(ServiceFailed, match=r"not serving after 0.3s \(GET /healthz answered 503\)"):
        wait_serving(FakeContainer(["running"]), lambda _b: (False, "GET /healthz answered 503"), 0.3, "model server")  # type: ignore[arg-type]
