"""Stop conditions, one look at a time and as a monitor: what trips, what does not, and what an abort runs."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest

from harness.guards import build
from harness.guards.checks import ErrorBudgetCheck, HttpCheck, Look, PromqlCheck
from harness.guards.monitor import GuardMonitor, GuardTripped
from harness.guards.record import CommandResult
from harness.guards.spec import ErrorBudgetGuard, HttpGuard, PromqlGuard, is_loopback
from harness.ports import PrometheusError
from tests.fakes import QuietHandler
from tests.serving_fakes import close, serve


@dataclass(frozen=True)
class Outcome:
    at: float
    ok: bool


class Metrics:
    """``ports.MetricsSource`` injected into the check: answers in turn (a number, None, or an error)."""

    def __init__(self, *answers: float | Exception | None) -> None:
        self.answers = list(answers)

    def query(self, promql: str) -> float | None:
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


def test_promql_above_below_no_data_and_blindness() -> None:
    above = PromqlGuard(name="p", kind="promql", query="x", above=0.05)
    assert PromqlCheck(above, Metrics(0.06)).look().bad
    assert not PromqlCheck(above, Metrics(0.05)).look().bad
    assert not PromqlCheck(above, Metrics(None)).look().bad  # no series: no data, not a breach
    blind = PromqlCheck(above, Metrics(PrometheusError("unreachable"))).look()
    assert blind.bad and blind.detail.startswith("cannot see")
    below = PromqlGuard(name="p", kind="promql", query="up", below=1)
    assert PromqlCheck(below, Metrics(0.0)).look().bad and not PromqlCheck(below, Metrics(1.0)).look().bad


def test_error_budget_over_all_traffic_and_over_a_window() -> None:
    now = 1000.0
    samples = [Outcome(now - 50 + i * 0.5, i >= 10) for i in range(100)]  # the first 10 failed, 50 s ago
    everything = ErrorBudgetGuard(name="b", kind="error_budget", max_error_rate=0.05)
    look = ErrorBudgetCheck(everything, lambda: samples, clock=lambda: now).look()
    assert look.bad and look.value == pytest.approx(0.10)
    recent = ErrorBudgetGuard(name="b", kind="error_budget", max_error_rate=0.05, window=10)
    assert not ErrorBudgetCheck(recent, lambda: samples, clock=lambda: now).look().bad
    few = ErrorBudgetGuard(name="b", kind="error_budget", max_error_rate=0.05, min_requests=200)
    assert ErrorBudgetCheck(few, lambda: samples, clock=lambda: now).look() == Look(False, None,
                                                                                   "100 requests (< 200): no judgement yet")


def test_http_probe_answers_statuses_and_silence() -> None:
    status = [200]

    class Health(QuietHandler):
        def do_GET(self) -> None:
            self.send_response(status[0])
            self.send_header("Content-Length", "0")
            self.end_headers()

    server: ThreadingHTTPServer = serve(Health)
    url = f"http://127.0.0.1:{server.server_address[1]}/healthz"
    try:
        check = HttpCheck(HttpGuard(name="h", kind="http", url=url))
        assert not check.look().bad
        status[0] = 503
        assert check.look().bad and "503, expected 200" in check.look().detail
    finally:
        close(server)
    assert HttpCheck(HttpGuard(name="h", kind="http", url=url)).look().bad  # nobody listens now


def test_loopback() -> None:
    assert all(is_loopback(h) for h in ("127.0.0.1", "127.3.2.1", "::1", "[::1]", "localhost"))
    assert not any(is_loopback(h) for h in ("10.0.0.1", "gateway.staging", "0.0.0.0", "172.17.0.2"))


class Flips:
    """A check whose looks turn bad at a given time."""

    def __init__(self, bad_from: float) -> None:
        self.bad_from = bad_from

    def look(self) -> Look:
        bad = time.monotonic() >= self.bad_from
        return Look(bad, 1.0 if bad else 0.0, "bad" if bad else "fine")


def _done(purpose: str) -> CommandResult:
    at = datetime.now(UTC)
    return CommandResult(purpose, ("team", "abort"), at, at, 0.0, 0)


def test_the_monitor_trips_once_after_consecutive_breaches_and_wakes_the_run() -> None:
    aborts: list[str] = []
    guard = ErrorBudgetGuard(name="budget", kind="error_budget", max_error_rate=0.1, interval=0.1, breaches=3)
    quiet = ErrorBudgetGuard(name="other", kind="error_budget", max_error_rate=0.1, interval=0.1)
    bad_from = time.monotonic() + 0.3

    def abort(reason: str) -> list[CommandResult]:
        aborts.append(reason)
        return [_done("abort")]

    monitor = GuardMonitor([(guard, Flips(bad_from)), (quiet, Flips(bad_from))], abort).start()
    started = time.monotonic()
    with pytest.raises(GuardTripped) as caught:
        monitor.sleep(10)
    woke = time.monotonic()
    monitor.stop()
    trip = monitor.tripped
    assert trip is not None and caught.value.trip is trip
    assert len(aborts) == 1 and trip.name in ("budget", "other")  # the first to trip; one abort per run
    assert woke - started < 1.5 and trip.abort_latency_s < 0.1
    assert [c.purpose for c in trip.abort_commands] == ["abort"]


def test_a_failing_abort_is_still_recorded() -> None:
    def abort(reason: str) -> list[CommandResult]:
        raise RuntimeError("kubectl: connection refused")

    guard = ErrorBudgetGuard(name="b", kind="error_budget", max_error_rate=0.1, interval=0.05)
    monitor = GuardMonitor([(guard, Flips(0))], abort).start()
    with pytest.raises(GuardTripped):
        monitor.sleep(5)
    monitor.stop()
    assert monitor.tripped is not None and monitor.tripped.abort_commands == ()


def test_a_quiet_monitor_sleeps_and_stops(tmp_path: Path) -> None:
    monitor = build([], lambda: Metrics(None), lambda: [], lambda reason: [], lambda m: None).start()
    started = time.monotonic()
    monitor.sleep(0.2)
    monitor.check()
    monitor.stop()
    assert 0.19 <= time.monotonic() - started < 1 and monitor.tripped is None


def test_stop_conditions_guard_any_target(tmp_path: Path) -> None:
    """On a target that starts its own stack (the serving fake's real servers and router, no abort of its own) a
    tripped guard still ends the run at once, recorded aborted, and the teardown removes everything."""
    from harness.engine.engine import Engine, RunOptions
    from harness.outcomes import RunStatus
    from harness.spec.catalogue import LoadedDrill
    from harness.spec.models import DrillSpec
    from tests.serving_fakes import ServingTarget, factory
    from tests.strategies.test_progressive import RUNBOOK

    spec = DrillSpec.model_validate({
        "name": "guarded", "root_cause": "performance", "runbook": "rb", "fault": {"kind": "none"},
        "strategy": {"kind": "canary", "weight": 50}, "traffic": {"rate": 100},
        "detection": {"interval": "250ms", "max_wait": "20s", "compare": [{"name": "errors", "measure": "error",
                                                                            "min_samples": 5000}]},
        "profiles": {"ci": {"baseline": "500ms"}},
        "stop_conditions": [{"name": "budget", "kind": "error_budget", "max_error_rate": 0.1, "min_requests": 20}],
    })
    target = ServingTarget(faults={"v3": {"kind": "error_slice", "feature": "x0", "above": -10}})  # v3 fails everything
    started = time.monotonic()
    result = Engine([], make_target=factory(target)).run(LoadedDrill(spec, RUNBOOK, Path("g.yaml"), Path("rb.yaml")),
                                                         RunOptions(report_root=tmp_path))
    assert result.status is RunStatus.ABORTED and result.reason.startswith("guard budget: error rate ")
    assert result.stopped_by is not None and result.stopped_by.abort_commands == ()
    assert time.monotonic() - started < 15 and target.closed == 1 and not target.backend.servers
    assert "rollback" not in [p.name for p in result.phases]
