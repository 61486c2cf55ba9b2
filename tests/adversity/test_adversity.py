"""Adversity on the way back, without Docker: bad specs (exit 2, file and field named, nothing started), the
scheduler's timing and undo, and real faults (registry, router control plane) over the in-process fake target."""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from harness.adversity.base import FaultContext
from harness.adversity.registry import FaultyRegistry
from harness.adversity.router_api import ControlPlaneProxy
from harness.adversity.schedule import Scheduler
from harness.adversity.spec import AdversitySpec
from harness.cli.main import app
from harness.engine.engine import Engine, RunOptions
from harness.engine.events import Decided, PhaseStarted, StepStarted
from harness.engine.results import RunStatus, StepResult, StepStatus
from harness.exit_codes import ExitStatus
from harness.ports import RouterError
from harness.runbook.retry import RetryPolicy, StepTimeout, run
from harness.stack.router import RouterClient
from tests.engine.test_engine import drill
from tests.fakes import FakeTarget, factory

ROOT = Path(__file__).resolve().parents[2]
BASE = yaml.safe_load((ROOT / "harness" / "data" / "drills" / "canary-fail.yaml").read_text())
NO_DOCKER = {"DOCKER_HOST": "unix:///nonexistent/docker.sock"}


def _write(tmp_path: Path, adversity: list[dict[str, Any]]) -> Path:
    path = tmp_path / "drills" / "adv.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(yaml.safe_dump({**json.loads(json.dumps(BASE)), "adversity": adversity}))
    return path


@pytest.mark.parametrize(("entry", "field", "needle"), [
    ({"kind": "registry-flaky", "at": "decision", "for": "5s"}, "adversity.0.kind", "registry-slow"),
    ({"kind": "registry-down", "at": "step:no-such-step", "for": "5s"}, "adversity.0.at", "no step 'no-such-step'"),
    ({"kind": "registry-down", "at": "decision", "for": "0s"}, "adversity.0.for", "greater than 0"),
    ({"kind": "registry-down", "at": "decision", "for": "-3s"}, "adversity.0.for", "duration"),
    ({"kind": "registry-down", "at": "decision", "for": float("inf")}, "adversity.0.for", "finite"),
    ({"kind": "registry-down", "at": "whenever", "for": "5s"}, "adversity.0.at", "step:<runbook step name>"),
    ({"kind": "registry-slow", "at": "decision", "for": "5s"}, "adversity.0", "needs latency"),
    ({"kind": "capacity", "at": "decision", "for": "5s"}, "adversity.0", "needs cpus"),
    ({"kind": "partition", "at": "decision", "for": "5s", "latency": "1s"}, "adversity.0", "takes no latency"),
    ({"kind": "service-refuse", "service": "registry", "for": "5s"}, "adversity.0.port", "service-refuse needs port"),
    ({"kind": "service-refuse", "port": 5000, "for": "5s"}, "adversity.0.service", "service-refuse needs service"),
    ({"kind": "service-refuse", "service": "registry", "port": 0, "for": "5s"}, "adversity.0.port", "greater than or equal to 1"),
    ({"kind": "service-refuse", "service": "registry", "port": 5000, "cpus": 1, "for": "5s"}, "adversity.0", "takes no cpus"),
    ({"kind": "service-cpu", "service": "registry", "for": "5s"}, "adversity.0.cpus", "service-cpu needs cpus"),
    ({"kind": "service-cpu", "cpus": 0.5, "for": "5s"}, "adversity.0.service", "service-cpu needs service"),
    ({"kind": "service-cpu", "service": "registry", "cpus": float("inf"), "for": "5s"}, "adversity.0.cpus", "finite"),
    ({"kind": "service-cpu", "service": "registry", "cpus": float("nan"), "for": "5s"}, "adversity.0.cpus", "finite"),
    ({"kind": "service-cpu", "service": "registry", "cpus": 0, "for": "5s"}, "adversity.0.cpus", "greater than 0"),
    ({"kind": "service-cpu", "service": "registry", "cpus": -1, "for": "5s"}, "adversity.0.cpus", "greater than 0"),
    ({"kind": "service-cpu", "service": "registry", "cpus": 0.001, "for": "5s"}, "adversity.0.cpus", "below 0.01"),
    ({"kind": "service-cpu", "service": "registry", "cpus": "half", "for": "5s"}, "adversity.0.cpus", "valid number"),
    ({"kind": "service-cpu", "service": "registry", "cpus": 0.5, "port": 80, "for": "5s"}, "adversity.0", "takes no port"),
    # canary-fail's target is drill's own (builtin): it has no Compose services to strike
    ({"kind": "service-refuse", "service": "registry", "port": 5000, "for": "5s"}, "adversity.0.service",
     "target kind compose"),
    ({"kind": "service-cpu", "service": "registry", "cpus": 0.5, "for": "5s"}, "adversity.0.service", "target kind compose"),
])
def test_a_bad_adversity_spec_exits_2_naming_file_and_field(tmp_path: Path, entry: dict[str, Any], field: str,
                                                             needle: str) -> None:
    path = _write(tmp_path, [entry])
    reports = tmp_path / "reports"
    result = CliRunner().invoke(app, ["run", str(path), "--report-dir", str(reports), "--store", str(tmp_path / "s.db")],
                                env=NO_DOCKER)
    assert result.exit_code == ExitStatus.BAD_INPUT, result.output
    assert str(path) in result.output and field in result.output and needle in result.output, result.output
    assert not reports.exists(), "nothing may start on bad input"


def test_every_catalogue_adversity_drill_validates() -> None:
    names = ["registry-slow", "registry-down", "router-api-slow", "replica-loss", "partition", "capacity-naive",
             "capacity-ordered"]
    result = CliRunner().invoke(app, ["validate", *(str(ROOT / "harness" / "data" / "drills" / f"{n}.yaml") for n in names)])
    assert result.exit_code == 0, result.output


def test_every_kind_has_a_fault_and_the_service_kinds_take_their_fields() -> None:
    from harness.adversity.base import registry
    from harness.adversity.spec import KINDS, PARAMS

    assert set(registry()) == set(KINDS) == set(PARAMS)
    refuse = AdversitySpec.model_validate({"kind": "service-refuse", "service": "registry", "port": 5000,
                                           "at": "step:rollback", "for": "20s"})
    assert (refuse.service, refuse.port, refuse.step, refuse.for_) == ("registry", 5000, "rollback", 20.0)
    cpu = AdversitySpec.model_validate({"kind": "service-cpu", "service": "stable", "cpus": 0.25, "for": "1m"})
    assert (cpu.service, cpu.cpus, cpu.at) == ("stable", 0.25, "decision")


# ---- the scheduler ------------------------------------------------------------------------------
class Recording:
    def __init__(self, log: list[str], name: str, fail_start: bool = False) -> None:
        self.log, self.target, self.fail_start = log, name, fail_start

    def start(self) -> None:
        self.log.append(f"start {self.target}")
        if self.fail_start:
            raise RuntimeError("engine refused")

    def stop(self) -> None:
        self.log.append(f"stop {self.target}")

    def observations(self) -> dict[str, Any]:
        return {}


def spec(at: str, for_: str = "10s", kind: str = "partition") -> AdversitySpec:
    return AdversitySpec.model_validate({"kind": kind, "at": at, "for": for_})


def scheduler(log: list[str], *specs: AdversitySpec, fail: str = "") -> Scheduler:
    def build(s: AdversitySpec, ctx: FaultContext) -> Recording:
        return Recording(log, s.at, fail_start=s.at == fail)

    sched = Scheduler(specs, builder=build)
    sched.bind(object(), "run-1")
    return sched


def test_faults_strike_at_their_moment_only_after_a_rollback_decision() -> None:
    log: list[str] = []
    sched = scheduler(log, spec("decision"), spec("rollback"), spec("step:drain"))
    sched.on_event(StepStarted("drain", "router.drain", False))  # a pre-flight step of the same name: too early
    assert log == []
    sched.on_event(Decided("rollback", "automated", ()))
    assert log == ["start decision"]
    sched.on_event(PhaseStarted("rollback"))
    sched.on_event(StepStarted("restore", "registry.restore_previous", False))
    assert log == ["start decision", "start rollback"]
    sched.on_event(StepStarted("drain", "router.drain", False))
    sched.on_event(StepStarted("drain", "router.drain", False))  # struck once
    assert log == ["start decision", "start rollback", "start step:drain"]
    sched.stop_all()
    assert sorted(log[3:]) == ["stop decision", "stop rollback", "stop step:drain"]
    sched.stop_all()  # undone once
    assert len(log) == 6


def test_a_promote_decision_strikes_nothing() -> None:
    log: list[str] = []
    sched = scheduler(log, spec("decision"))
    sched.on_event(Decided("promote", "automated", ()))
    sched.stop_all()
    assert log == []


def test_a_fault_ends_after_its_duration_and_its_window_is_recorded() -> None:
    log: list[str] = []
    sched = scheduler(log, spec("decision", "200ms"))
    sched.on_event(Decided("rollback", "automated", ()))
    time.sleep(0.5)
    assert log == ["start decision", "stop decision"]
    [record] = sched.records(())
    assert record.active_s is not None and 0.15 <= record.active_s < 0.45
    sched.stop_all()
    assert log == ["start decision", "stop decision"]


def test_a_fault_that_cannot_strike_is_still_undone_and_recorded() -> None:
    log: list[str] = []
    sched = scheduler(log, spec("decision"), fail="decision")
    sched.on_event(Decided("rollback", "automated", ()))
    assert log == ["start decision", "stop decision"]
    [record] = sched.records(())
    assert record.error is not None and "engine refused" in record.error


def test_blame_and_absorbed_by_name_the_steps_a_fault_overlapped() -> None:
    from harness.engine.events import now

    log: list[str] = []
    sched = scheduler(log, spec("decision"))
    before = StepResult("early", "x", StepStatus.OK, now(), now(), 0.0, 1)
    time.sleep(0.01)
    sched.on_event(Decided("rollback", "automated", ()))
    t0 = now()
    time.sleep(0.01)
    hit = StepResult("restore", "registry.restore_previous", StepStatus.FAILED, t0, now(), 0.01, 3, error="refused")
    assert "partition struck at decision" in sched.blame(hit)
    assert sched.blame(before) == ""
    [record] = sched.records((before, hit))
    assert [(a.step, a.attempts, a.status) for a in record.absorbed_by] == [("restore", 3, "failed")]
    sched.stop_all()


# ---- real faults on the fake target ---------------------------------------------------------------
def test_a_registry_outage_the_retries_outlast_is_carried(tmp_path: Path) -> None:
    target = FakeTarget()
    d = drill(adversity=[{"kind": "registry-down", "at": "step:restore", "for": "150ms"}])
    result = Engine([], make_target=factory(target)).run(d, RunOptions(report_root=tmp_path))
    assert result.status is RunStatus.PASSED, result.reason
    [record] = result.adversity
    assert record.kind == "registry-down" and record.struck_at is not None and record.ended_at is not None
    restore = next(a for a in record.absorbed_by if a.step == "restore")
    assert restore.status == "ok" and restore.attempts >= 2  # the retry policy carried it
    assert not isinstance(target.registry, FaultyRegistry)  # undone: the real registry is back
    assert result.to_json()["adversity"][0]["absorbed_by"]


def test_a_registry_outage_longer_than_the_retries_fails_naming_the_fault_and_the_step(tmp_path: Path) -> None:
    target = FakeTarget()
    d = drill(adversity=[{"kind": "registry-down", "at": "decision", "for": "60s"}])
    started = time.monotonic()
    result = Engine([], make_target=factory(target)).run(d, RunOptions(report_root=tmp_path))
    assert result.status is RunStatus.FAILED
    assert "runbook step restore failed" in result.reason and "registry-down struck at decision" in result.reason
    assert time.monotonic() - started < 30, "the fault ends with the run, not after its 60 s"
    assert result.adversity[0].ended_at is not None and not isinstance(target.registry, FaultyRegistry)


def test_a_slow_registry_call_is_cut_short_by_the_step_deadline() -> None:
    class Real:
        model = "fraud"

        def aliases(self) -> dict[str, str]:
            return {"champion": "v2"}

    slow = FaultyRegistry(Real(), "slow", 5.0)
    t0 = time.monotonic()
    outcome = run(lambda: slow.aliases(), RetryPolicy(1, 0.0, 0.0, 0.3))
    assert isinstance(outcome.error, StepTimeout) and time.monotonic() - t0 < 3
    assert FaultyRegistry(Real(), "slow", 0.05).aliases() == {"champion": "v2"}


class _Api:
    """A stand-in runtime API on 127.0.0.1: answers each command line and closes, as HAProxy's does."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                line = conn.recv(1024)
                conn.sendall(b"answer to " + line)


def test_the_control_plane_proxy_delays_or_refuses_runtime_commands() -> None:
    api = _Api()
    client = RouterClient("127.0.0.1", api.port, timeout=2.0)
    assert client.command("show info") == "answer to show info"
    slow = ControlPlaneProxy(("127.0.0.1", api.port), "slow", 0.4)
    client.port = slow.port
    t0 = time.monotonic()
    assert client.command("show info") == "answer to show info"
    assert time.monotonic() - t0 >= 0.4
    slow.close()
    down = ControlPlaneProxy(("127.0.0.1", api.port), "down", 0.0)
    client.port = down.port
    with pytest.raises(RouterError):
        client.command("show info")
    down.close()
    assert down.connections == 1 and slow.connections == 1
    api.sock.close()


def test_the_report_shows_the_fault_and_the_way_back_by_step_and_reads_back(tmp_path: Path) -> None:
    from harness.report import html
    from harness.report.adversity import breakdown
    from harness.report.load import result_from_json

    d = drill(adversity=[{"kind": "registry-down", "at": "step:restore", "for": "150ms"}])
    result = Engine([], make_target=factory(FakeTarget())).run(d, RunOptions(report_root=tmp_path))
    page = html.render(result)
    assert "Adversity on the way back" in page and 'class="fault"' in page and "registry-down" in page
    shares = breakdown(result)
    assert [s.name for s in shares if s.name != "(between steps)"] == ["drain", "restore", "stop", "verify"]
    assert result.decision_to_completion_s is not None
    assert sum(s.seconds for s in shares) == pytest.approx(result.decision_to_completion_s, abs=0.05)
    again = result_from_json(json.loads(json.dumps(result.to_json())))
    assert again.adversity == result.adversity


def test_bench_pressure_reports_a_missing_case_and_prints_every_case() -> None:
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location("bench_pressure", ROOT / "benchmarks" / "bench_pressure.py")
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    sys.modules["bench_pressure"] = bench
    spec.loader.exec_module(bench)
    out = {"clean": {"status": "passed", "decision_to_completion_s": 1.0}, "cases": {"late-rollback": bench.missing("late-rollback")}}
    assert set(bench.missing("x")) >= {"status", "expected", "as_expected", "decision_to_completion_s",
                                       "failed_during_rollback", "slow_during_rollback", "ratio_to_clean"}
    printed = bench.table(out)
    assert "late-rollback" in printed and "missing" in printed
    assert set(bench.CASES) >= {"registry-slow", "registry-down", "router-api-slow", "late-rollback", "capacity-naive",
                                "capacity-ordered", "replica-loss", "partition"}


def test_ctrl_c_during_the_rollback_still_undoes_the_fault(tmp_path: Path) -> None:
    from harness.engine.engine import RunInterrupted
    from harness.engine.events import Event

    class CtrlC:
        def on_event(self, event: Event) -> None:
            if isinstance(event, StepStarted) and event.name == "stop":
                raise KeyboardInterrupt

    target = FakeTarget()
    d = drill(adversity=[{"kind": "registry-slow", "at": "step:drain", "for": "10m", "latency": "10ms"}])
    with pytest.raises(RunInterrupted) as caught:
        Engine([CtrlC()], make_target=factory(target)).run(d, RunOptions(report_root=tmp_path))
    assert caught.value.result.status is RunStatus.ABORTED
    [record] = caught.value.result.adversity
    assert record.struck_at is not None and record.ended_at is not None
    assert not isinstance(target.registry, FaultyRegistry) and target.closed == 1
