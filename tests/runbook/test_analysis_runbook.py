"""Canary judge, Mann-Whitney, retry policy, runbook executor and load generator: fast, no Docker."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from harness.engine.context import RunContext
from harness.engine.events import Event, Notified, StepEnded
from harness.engine.human import HumanInput
from harness.engine.results import StepStatus
from harness.judge import analysis
from harness.ports import Endpoint
from harness.runbook import executor as runbook
from harness.runbook.retry import RetryPolicy, run
from harness.spec.models import MetricCheck, RunbookSpec
from harness.targets.builtin.target import FeatureProtocol
from harness.traffic.generator import LoadGenerator, window
from tests.fakes import FakeTarget


class FakeProm:
    """Answers PromQL with canned values (a fake injected where Prometheus would be)."""

    def __init__(self, values: dict[str, float | None]) -> None:
        self.values = values

    def query(self, expr: str) -> float | None:
        return self.values.get(expr)


CHECK = MetricCheck(name="err", query="q", samples_query="n", baseline_query="b", failure_above=0.05,
                    inconclusive_above=0.02, min_samples=20)


@pytest.mark.parametrize(("value", "samples", "verdict"), [
    (0.30, 25, "fail"), (0.30, 10, "inconclusive"), (0.03, 25, "inconclusive"), (0.01, 25, "pass"), (None, 25, "inconclusive"),
])
def test_threshold_judge(value: float | None, samples: float, verdict: str) -> None:
    j = analysis.judge(FakeProm({"q": value, "n": samples, "b": 0.0}), [CHECK])  # type: ignore[arg-type]
    assert j.verdict == verdict
    e = j.evidence[0]
    assert e.samples == samples and e.baseline_value == 0.0
    assert j.breached == (value is not None and value > 0.05)
    if value is not None:
        assert e.effect_size == pytest.approx(value)


def test_mann_whitney_against_hand_computed_values() -> None:
    # U for canary {5..14} against baseline {1..10}: 82 of 100 pairs; z = (82-50)/sqrt(100*21/12 - ties term)
    mw = analysis.mann_whitney(list(range(1, 11)), list(range(5, 15)))
    assert mw is not None
    assert mw.u == 82.0 and mw.effect_size == 0.82
    assert mw.p_value == pytest.approx(0.0077, abs=5e-4)
    same = analysis.mann_whitney([1.0] * 10, [1.0] * 10)
    assert same is not None and same.p_value == 0.5
    assert analysis.mann_whitney([1.0] * 3, [2.0] * 3) is None  # minimum-sample guard


def test_retry_counts_attempts_and_gives_up() -> None:
    calls = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionError("not yet")
        return "ok"

    out = run(flaky, RetryPolicy(attempts=3, backoff_s=0.001))
    assert (out.value, out.attempts, out.error) == ("ok", 3, None)
    out = run(lambda: 1 / 0, RetryPolicy(attempts=2, backoff_s=0.001))
    assert out.attempts == 2 and isinstance(out.error, ZeroDivisionError)
    out = run(lambda: time.sleep(1), RetryPolicy(attempts=1, timeout_s=0.05))
    assert "0.05" in str(out.error)


def _context(events: list[Event]) -> RunContext:
    target = FakeTarget()
    load = LoadGenerator(Endpoint("127.0.0.1", 9), target.protocol, rate=1)  # never started
    return RunContext(target=target, load=load, emit=events.append, variables={"stable_version": "v2"})


def test_runbook_times_every_step_aborts_and_skips() -> None:
    spec = RunbookSpec.model_validate({"name": "t", "steps": [
        {"name": "tell", "action": "notify", "params": {"message": "to ${stable_version}"}},
        {"name": "no-shell", "action": "shell", "params": {"command": "true"}, "retry": {"attempts": 2, "backoff": "1ms"}},
        {"name": "never", "action": "notify", "params": {"message": "x"}},
    ]})
    events: list[Event] = []
    out = runbook.execute(spec, _context(events), events.append)
    assert [s.status for s in out.steps] == [StepStatus.OK, StepStatus.FAILED, StepStatus.SKIPPED]
    assert not out.ok and out.first_failure is not None and "allow_shell" in (out.first_failure.error or "")
    assert out.steps[1].attempts == 2
    assert all(s.started_at and s.ended_at and s.duration_s is not None for s in out.steps[:2])
    assert any(isinstance(e, Notified) and e.message == "to v2" for e in events)
    assert sum(isinstance(e, StepEnded) for e in events) == 2


def test_on_failure_continue_and_manual_steps_answered_from_a_file(tmp_path: Path) -> None:
    answers = tmp_path / "answers.txt"
    answers.write_text("# the person's answers\ndone\nfailed\n")
    spec = RunbookSpec.model_validate({"name": "t", "steps": [
        {"name": "page", "action": "notify", "params": {"message": "x"}, "manual": True, "instructions": "Page on-call"},
        {"name": "check-dash", "action": "notify", "params": {"message": "x"}, "manual": True, "on_failure": "continue"},
        {"name": "after", "action": "notify", "params": {"message": "x"}},
    ]})
    events: list[Event] = []
    human = HumanInput(answers.open(), prompt=lambda _t: None)
    out = runbook.execute(spec, _context(events), events.append, human)
    assert [s.status for s in out.steps] == [StepStatus.OK, StepStatus.FAILED, StepStatus.OK]
    assert out.steps[0].manual and out.steps[0].detail == "confirmed by a person"


def test_human_decision_times_out_and_reads_answers(tmp_path: Path) -> None:
    f = tmp_path / "a.txt"
    f.write_text("maybe\nrollback\n")
    seen: list[str] = []
    human = HumanInput(f.open(), prompt=seen.append)
    assert human.decide("ALERT", timeout=2).value == "rollback"
    assert any("not understood" in s for s in seen)
    assert human.decide("ALERT again", timeout=0.2).value is None  # the stream has ended


class _Echo(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        fail = body["features"]["x0"] > 1.0
        payload = json.dumps({"prediction": 1, "score": 0.7, "model_version": "vT"}).encode()
        self.send_response(500 if fail else 200)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("X-Model-Version", "vT")
        self.end_headers()
        self.wfile.write(payload)


def test_load_generator_keeps_its_rate_and_records_truth() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        t0 = time.time()
        with LoadGenerator(Endpoint("127.0.0.1", server.server_address[1]), FeatureProtocol(), rate=100, workers=4) as load:
            time.sleep(1.0)
        samples = load.samples()
    finally:
        server.shutdown()
    assert 80 <= len(samples) <= 115
    stats = window(samples, t0, time.time())
    assert stats.by_version == {"vT": stats.requests}
    # x0 ~ N(0,1): about 16 % above 1.0
    assert 0.05 < stats.error_rate < 0.30
    assert all(s.correct is not None for s in samples if s.ok)


def test_traffic_summary_tells_rollback_failures_from_the_bad_versions_answers() -> None:

    from harness.engine.verdict import summarise
    from harness.traffic.generator import Sample

    t0 = 1_000.0

    def s(at: float, status: int, version: str | None) -> Sample:
        return Sample(t0 + at, status, version, 0.01, True if status == 200 else None, False, 0.5 if status == 200 else None)

    samples = [
        s(5, 500, "v3"),      # the fault, before the decision
        s(10.001, 500, "v3"),  # the fault again, racing the drain
        s(10.5, 503, None),   # the router had no server: the rollback failed this one
        s(11, 0, None),       # a transport failure during the rollback
        s(11.5, 200, "v2"),
        s(13, 500, "v2"),     # after completion: not "during"
    ]
    t = summarise(samples, rollback_started=t0 + 10, completed=t0 + 12, baseline_error_rate=0.0, candidate="v3")
    assert (t.requests, t.failed) == (6, 5)
    assert t.failed_during_rollback == 2
    assert t.bad_responses_during_rollback == 1 and t.bad_responses_served == 2
    assert t.after_error_rate == 1.0
