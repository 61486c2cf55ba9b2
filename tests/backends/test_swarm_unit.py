"""The Swarm backend's logic without Docker: specs, the swarm-update strategy in the engine, the swarm.* actions,
and the session's "leave the engine as found" decisions, each against fakes injected through a seam."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.backends.swarm import actions as swarm_actions
from harness.backends.swarm import session as swarm_session
from harness.engine.context import RunContext
from harness.engine.engine import Engine, RunOptions
from harness.engine.results import RunStatus
from harness.errors import BackendUnavailable, SpecError, StepFailed
from harness.ports import Endpoint, RollingBackend, Rollout, ServiceFailed
from harness.spec import catalogue
from harness.spec.catalogue import LoadedDrill
from harness.spec.models import DrillSpec, parse_model
from harness.targets import create
from harness.traffic.generator import LoadGenerator
from tests.fakes import FakeBackend, FakeTarget, factory


# ---- specs ------------------------------------------------------------------------------------
def _drill_yaml(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "d.yaml"
    path.write_text(
        "name: d\nroot_cause: performance\nfault: {kind: crash}\nrunbook: swarm-rollback\n"
        "detection: {metrics: [{name: m, query: up, failure_above: 1}]}\n" + extra)
    return path


def test_swarm_update_needs_the_swarm_backend(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as err:
        parse_model(_drill_yaml(tmp_path, "strategy: {kind: swarm-update}\n"), DrillSpec)
    assert "backend: swarm" in str(err.value)
    spec = parse_model(_drill_yaml(tmp_path, "strategy: {kind: swarm-update}\nbackend: swarm\n"), DrillSpec)
    assert (spec.replicas.stable, spec.replicas.candidate) == (2, 1)


@pytest.mark.parametrize(("replicas", "field"), [("{stable: 1}", "replicas.stable"), ("{candidate: 0}", "replicas.candidate")])
def test_replicas_have_floors(tmp_path: Path, replicas: str, field: str) -> None:
    with pytest.raises(SpecError) as err:
        parse_model(_drill_yaml(tmp_path, f"backend: swarm\nreplicas: {replicas}\n"), DrillSpec)
    issue = err.value.issues[0]
    assert issue.field == field and issue.line == 7  # the replicas line, after five lines and backend


def test_a_swarm_update_drill_refuses_another_backend(tmp_path: Path) -> None:
    drill = catalogue.load_drill("swarm-auto-rollback")
    with pytest.raises(SpecError) as err:
        create(drill, "r", tmp_path, backend="docker")
    assert err.value.issues[0].field == "strategy.kind"
    with pytest.raises(SpecError):
        create(catalogue.load_drill("canary-fail"), "r", tmp_path, backend="kubernetes")


# ---- the swarm-update strategy in the engine, over a fake orchestrator ---------------------------
class FakeOrchestrator(FakeBackend):
    """Rolls the stable slot itself; a version in ``crash`` never gets healthy and is rolled back by 'Swarm'."""

    kind = "fake-swarm"

    def __init__(self, target: FakeTarget, crash: set[str]) -> None:
        super().__init__()
        self.target = target
        self.crash_on_update = crash
        self.state: str | None = None
        self.previous: str | None = None
        self.calls: list[str] = []

    def rolling_update(self, slot: str, version: str) -> None:
        self.calls.append(f"update {slot} {version}")
        self.previous = self.target.router.slot_version[slot]
        if version in self.crash_on_update:
            self.state = "rollback_started"  # the new tasks died; the old ones never stopped serving
        else:
            self.target.router.slot_version[slot] = version
            self.state = "completed"

    def rollout(self, slot: str) -> Rollout:
        return Rollout(self.state, "")

    def rollback(self, slot: str) -> str:
        self.calls.append(f"rollback {slot}")
        if self.state and self.state.startswith("rollback"):
            return "already rolling back by itself"
        assert self.previous is not None
        self.target.router.slot_version[slot] = self.previous
        self.state = "rollback_completed"
        return "rollback started"

    def scale(self, slot: str, replicas: int) -> None:
        self.calls.append(f"scale {slot} {replicas}")

    def wait_converged(self, slot: str, timeout: float, version: str | None = None, fail_fast: bool = False) -> object:
        if version is not None and self.target.router.slot_version.get(slot) != version:
            raise ServiceFailed(f"{slot} runs {self.target.router.slot_version.get(slot)}, not {version}")
        return None

    def replicas(self) -> dict[str, int] | None:
        return {"stable": 2, "candidate": 1}


def _swarm_drill(name: str, tmp_path: Path, **strategy: Any) -> LoadedDrill:
    drill = catalogue.load_drill(name)
    spec = drill.spec.model_copy(update={
        "strategy": drill.spec.strategy.model_copy(update=strategy),
        "detection": drill.spec.detection.model_copy(update={"max_wait": 3.0}),
        "profiles": {"ci": drill.spec.profiles["ci"].model_copy(update={"baseline": 0.5})}})
    return LoadedDrill(spec, drill.runbook, drill.drill_path, drill.runbook_path)


def _run(drill: LoadedDrill, tmp_path: Path, crash: set[str]) -> tuple[Any, FakeOrchestrator]:
    target = FakeTarget()
    target.backend = backend = FakeOrchestrator(target, crash)
    result = Engine(make_target=factory(target)).run(drill, RunOptions(report_root=tmp_path))
    return result, backend


def test_the_orchestrators_own_rollback_is_the_decision(tmp_path: Path) -> None:
    result, backend = _run(_swarm_drill("swarm-auto-rollback", tmp_path), tmp_path, crash={"v3"})
    assert result.status is RunStatus.PASSED, result.reason
    assert result.evidence[0].metric == "fake-swarm-update-monitor" and result.trigger == "automated"
    assert backend.calls[:2] == ["update stable v3", "rollback stable"]  # the runbook's rollback was a no-op
    assert result.backend == "fake-swarm" and result.replicas == {"stable": 2, "candidate": 1}
    assert result.traffic is not None and result.traffic.failed == 0


def test_a_version_the_orchestrator_cannot_see_is_missed_without_our_detection(tmp_path: Path) -> None:
    drill = _swarm_drill("swarm-update-fail", tmp_path, detect_by="orchestrator")
    result, backend = _run(drill, tmp_path, crash=set())
    assert result.status is RunStatus.FAILED and "not detected" in result.reason
    assert backend.calls == ["update stable v3"]  # nobody rolled it back


# ---- the swarm.* actions ------------------------------------------------------------------------
def _ctx(target: FakeTarget) -> RunContext:
    load = LoadGenerator(Endpoint("127.0.0.1", 9), target.protocol, rate=1)  # never started
    return RunContext(target=target, load=load, emit=lambda e: None, variables={})


def test_swarm_actions_need_an_orchestrator() -> None:
    ctx = _ctx(FakeTarget())
    assert not isinstance(ctx.backend, RollingBackend)
    with pytest.raises(StepFailed, match="no orchestrator"):
        swarm_actions.rollback(ctx, swarm_actions.ServiceParams(service="stable"))


def test_swarm_actions_drive_the_orchestrator() -> None:
    target = FakeTarget()
    target.router.slot_version["stable"] = "v2"
    target.backend = backend = FakeOrchestrator(target, set())
    ctx = _ctx(target)
    backend.rolling_update("stable", "v3")
    assert "rollback started" in swarm_actions.rollback(ctx, swarm_actions.ServiceParams(service="stable"))
    assert "converged on v2" in swarm_actions.wait_converged(ctx, swarm_actions.ConvergedParams(service="stable", version="v2"))
    swarm_actions.scale(ctx, swarm_actions.ScaleParams(service="stable", replicas=3))
    assert backend.calls[-1] == "scale stable 3"
    with pytest.raises(ServiceFailed):
        swarm_actions.wait_converged(ctx, swarm_actions.ConvergedParams(service="stable", version="v3", timeout=0.1))


# ---- the session: leave the engine as found ------------------------------------------------------
class _Network:
    def __init__(self, engine: FakeEngine, name: str, labels: dict[str, str], driver: str) -> None:
        self.engine, self.name, self.driver, self.id = engine, name, driver, f"id-{name}"
        self.attrs = {"Labels": labels}

    def remove(self) -> None:
        self.engine.networks_.remove(self)


class _Networks:
    def __init__(self, engine: FakeEngine) -> None:
        self.engine = engine

    def list(self, names: list[str] | None = None, filters: dict[str, str] | None = None) -> list[_Network]:
        found = [n for n in self.engine.networks_ if not names or any(x in n.name for x in names)]
        if filters and "label" in filters:
            key, _, value = filters["label"].partition("=")
            found = [n for n in found if n.attrs["Labels"].get(key) == value]
        if filters and "driver" in filters:
            found = [n for n in found if n.driver == filters["driver"]]
        return found

    def create(self, name: str, driver: str, attachable: bool, internal: bool, labels: dict[str, str],
               check_duplicate: bool) -> _Network:
        assert internal, "model tasks get no egress"
        network = _Network(self.engine, name, labels, driver)
        self.engine.networks_.append(network)
        return network


class _Swarm:
    def __init__(self, engine: FakeEngine) -> None:
        self.engine = engine
        self.attrs: dict[str, Any] = {}

    def reload(self) -> None:
        self.attrs = {"Spec": {"Labels": self.engine.swarm_labels}}

    def init(self, advertise_addr: str, listen_addr: str, labels: dict[str, str]) -> None:
        self.engine.state, self.engine.manager, self.engine.swarm_labels = "active", True, labels
        self.engine.networks_.append(_Network(self.engine, "ingress", {}, "overlay"))
        self.engine.networks_.append(_Network(self.engine, "docker_gwbridge", {}, "bridge"))

    def leave(self, force: bool) -> None:
        self.engine.state, self.engine.manager, self.engine.swarm_labels = "inactive", False, {}
        self.engine.networks_ = [n for n in self.engine.networks_ if n.driver != "overlay"]  # docker_gwbridge stays


class _Empty:
    def list(self, all: bool = False, filters: dict[str, str] | None = None) -> list[Any]:  # noqa: A002
        return []


class FakeEngine:
    """Just enough of docker.DockerClient for the session: swarm state, networks, no services."""

    def __init__(self, state: str = "inactive", manager: bool = False, labels: dict[str, str] | None = None) -> None:
        self.state, self.manager, self.swarm_labels = state, manager, labels or {}
        self.networks_: list[_Network] = []
        self.networks, self.swarm = _Networks(self), _Swarm(self)
        self.services = self.configs = self.containers = self.volumes = self.images = _Empty()

    def info(self) -> dict[str, Any]:
        return {"Swarm": {"LocalNodeState": self.state, "ControlAvailable": self.manager}}


def _names(engine: FakeEngine) -> set[str]:
    return {n.name for n in engine.networks_}


def test_a_swarm_made_for_the_run_is_left_with_its_networks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRILL_SWARM_LOCK", str(tmp_path / "lock"))
    engine = FakeEngine()
    session = swarm_session.SwarmSession(engine, "r1")
    session.open(lambda m: None)
    assert engine.state == "active" and engine.swarm_labels == {"io.drill.harness": "true"}
    assert "drill-r1-overlay" in _names(engine)
    report = session.close()
    assert engine.state == "inactive" and _names(engine) == set()
    assert report.initialised and report.left and report.removed_networks == ["docker_gwbridge"]


def test_a_swarm_found_is_never_left(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRILL_SWARM_LOCK", str(tmp_path / "lock"))
    engine = FakeEngine("active", manager=True)  # a team's own swarm: no harness label
    session = swarm_session.SwarmSession(engine, "r1")
    session.open(lambda m: None)
    report = session.close()
    assert engine.state == "active" and not report.initialised and not report.left
    assert "drill-r1-overlay" not in _names(engine)


def test_a_harness_swarm_another_run_uses_stays(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRILL_SWARM_LOCK", str(tmp_path / "lock"))
    engine = FakeEngine()
    first = swarm_session.SwarmSession(engine, "r1")
    second = swarm_session.SwarmSession(engine, "r2")
    first.open(lambda m: None)
    second.open(lambda m: None)
    assert not first.close().left and engine.state == "active"  # r2's overlay network is still there
    assert second.close().left and engine.state == "inactive"


def test_a_worker_node_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRILL_SWARM_LOCK", str(tmp_path / "lock"))
    engine = FakeEngine("active", manager=False)
    with pytest.raises(BackendUnavailable, match="worker"):
        swarm_session.SwarmSession(engine, "r1").open(lambda m: None)
    assert _names(engine) == set()  # nothing was created


def test_the_cli_refuses_a_swarm_update_on_docker_before_starting_anything(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "DRILL_STORE": f"sqlite:///{tmp_path}/drill.db"}
    proc = subprocess.run([sys.executable, "-m", "harness.cli", "run", "swarm-auto-rollback", "--backend", "docker"],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert proc.returncode == 2
    assert "swarm-auto-rollback.yaml: strategy.kind:" in proc.stderr and "'docker'" in proc.stderr
    assert not (tmp_path / "drill.db").exists() and not (tmp_path / "reports").exists()  # nothing written


def test_a_good_rolling_update_is_promoted_in_place(tmp_path: Path) -> None:
    """A swarm-update of a good version: nobody rolls back, the stable slot finishes on it, nothing is stopped."""
    drill = _swarm_drill("swarm-update-fail", tmp_path, detect_by="orchestrator")
    spec = drill.spec.model_copy(update={"expect": "promote"})
    target = FakeTarget(bad=set())
    target.backend = backend = FakeOrchestrator(target, set())
    result = Engine(make_target=factory(target)).run(LoadedDrill(spec, drill.runbook, drill.drill_path, drill.runbook_path),
                                                     RunOptions(report_root=tmp_path))
    assert result.status is RunStatus.PASSED, result.reason
    assert result.serving_version_after == "v3" and backend.calls == ["update stable v3"]
    assert target.router.states["stable"] == "ready"  # the stable slot was never taken out
