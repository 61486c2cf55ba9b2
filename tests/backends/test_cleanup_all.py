"""Cleanup tries everything (issue 28): ``sweep`` and ``SwarmSession.close`` try every resource and every hook,
then raise one summary; the sweep selects only what drill labelled at creation (a run id or a cluster name).

No Docker: a fake client injected through ``sweep``'s and ``SwarmSession``'s ``client`` seam, answering label
filters the way the engine does (every ``key`` or ``key=value`` of the list must match).
"""

from __future__ import annotations

from typing import Any

import docker.errors
import pytest

from harness.backends.swarm.session import SwarmSession
from harness.stack import docker_api
from harness.stack.cleanup import CleanupIncomplete

RUN = "20261205T080000Z-canary-fail-abc123"
OURS = {"io.drill.harness": "true", "io.drill.run-id": RUN}


class Resource:
    def __init__(self, name: str, labels: dict[str, str], fails: str | None = None) -> None:
        self.id = self.name = name
        self.labels = labels
        self.fails = fails
        self.removed = False

    def remove(self, **_: Any) -> None:
        if self.fails is not None:
            raise docker.errors.APIError("500 Server Error", explanation=self.fails)
        self.removed = True


class Collection:
    def __init__(self, *items: Resource) -> None:
        self.items = list(items)

    def list(self, filters: dict[str, Any] | None = None, **_: Any) -> list[Resource]:
        wanted = (filters or {}).get("label", [])
        wanted = [wanted] if isinstance(wanted, str) else wanted

        def matches(r: Resource, want: str) -> bool:
            key, eq, value = want.partition("=")
            return key in r.labels and (not eq or r.labels[key] == value)

        return [r for r in self.items if all(matches(r, w) for w in wanted)]


class Client:
    def __init__(self, containers: list[Resource], networks: tuple[Resource, ...] = (), volumes: tuple[Resource, ...] = ()) -> None:
        self.containers, self.networks, self.volumes = Collection(*containers), Collection(*networks), Collection(*volumes)
        self.services, self.configs, self.images = Collection(), Collection(), Collection()

    def info(self) -> dict[str, Any]:
        return {"Swarm": {"LocalNodeState": "inactive"}}


def test_sweep_tries_every_resource_and_names_each_that_stayed() -> None:
    stuck = Resource("model-stable", OURS, fails="device or resource busy")
    router, net, vol = Resource("router", OURS), Resource("net", OURS), Resource("vol", OURS)
    with pytest.raises(CleanupIncomplete) as info:
        docker_api.sweep(Client([stuck, router], (net,), (vol,)), RUN)  # type: ignore[arg-type]
    assert router.removed and net.removed and vol.removed  # the rest were never skipped
    assert info.value.failures == ("container model-stable: APIError: device or resource busy",)
    assert "1 step(s) failed" in str(info.value)


def test_the_sweep_selects_only_what_drill_labelled_when_it_created_it() -> None:
    # A team's container of an image built FROM an old drill base inherits io.drill.harness=true, never a run id.
    team = Resource("team-nginx", {"io.drill.harness": "true", "io.drill.inputs": "x"})
    cluster = Resource("drill-node-1", {"io.drill.harness": "true", "io.drill.cluster": "drill"})
    run = Resource("router", OURS)
    swept = docker_api.sweep(Client([team, cluster, run]))  # type: ignore[arg-type]
    assert swept.containers == 2 and run.removed and cluster.removed and not team.removed


def test_closing_a_swarm_session_runs_every_hook_and_the_sweep_after_a_failing_one() -> None:
    ran: list[str] = []

    def give_back_image() -> None:
        raise RuntimeError("the engine refused the image")

    def restore_nodes() -> None:
        ran.append("restore_nodes")

    left = Resource("overlay", OURS)
    session = SwarmSession(Client([], (left,)), RUN)  # type: ignore[arg-type]
    session._open = True
    session.on_close.extend((give_back_image, restore_nodes))
    with pytest.raises(CleanupIncomplete) as info:
        session.close()
    assert ran == ["restore_nodes"] and left.removed  # the engines came back, the run's network went
    assert info.value.failures == ("give_back_image: RuntimeError: the engine refused the image",)
