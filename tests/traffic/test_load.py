"""Production-rate load: the rate schedule (ramp, stages) against its closed forms, the per-second
accounting of failed and slow requests, the rate achieved per phase, and the load generator against an
in-process router (tests/fakes.py)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from harness.engine.results import PhaseResult
from harness.engine.verdict import per_second, phase_rates, summarise
from harness.errors import SpecError
from harness.spec.models import TrafficSpec
from harness.traffic.generator import LoadGenerator, Sample
from harness.traffic.profile import Schedule
from tests.fakes import FakeTarget, QuietHandler


def test_a_constant_rate_offers_rate_times_t() -> None:
    s = Schedule.constant(500)
    assert s.count_by(0) == 0 and s.count_by(2.5) == pytest.approx(1250)
    assert s.time_of(1) == pytest.approx(0.002) and s.time_of(500) == pytest.approx(1.0)
    assert s.rate_at(0) == s.rate_at(100) == 500


def test_a_linear_ramp_offers_the_trapezoid() -> None:
    r0, r1, T = 50.0, 500.0, 5.0
    s = Schedule.ramp(r0, r1, T)
    for t in (0.5, 1.0, 2.5, 4.9):
        assert s.count_by(t) == pytest.approx(r0 * t + (r1 - r0) * t * t / (2 * T))
        assert s.rate_at(t) == pytest.approx(r0 + (r1 - r0) * t / T)
    assert s.count_by(T) == pytest.approx((r0 + r1) / 2 * T)  # 1375 requests over the ramp
    assert s.count_by(T + 2) == pytest.approx(1375 + 2 * r1)  # then the rate holds
    assert s.ramp_s == T and s.rate_at(T + 1) == r1


@pytest.mark.parametrize("schedule", [Schedule.constant(123), Schedule.ramp(10, 900, 3),
                                      Schedule.ramp(900, 10, 3),  # a ramp down, too
                                      Schedule.stages(5, [(1, 100), (2, 100), (1, 20), (0.5, 600)])])
def test_time_of_is_the_inverse_of_count_by(schedule: Schedule) -> None:
    last = 0.0
    for n in range(1, 3000, 7):
        t = schedule.time_of(n)
        assert t >= last  # request times never go back
        assert schedule.count_by(t) == pytest.approx(n, abs=1e-6)
        last = t


def test_stages_move_linearly_from_one_rate_to_the_next() -> None:
    s = Schedule.stages(10, [(2, 110), (3, 110), (1, 10)])
    assert s.count_by(2) == pytest.approx(120)  # (10 + 110) / 2 * 2
    assert s.count_by(5) == pytest.approx(120 + 330)
    assert s.count_by(6) == pytest.approx(450 + 60)
    assert s.rate_at(10) == 10 and s.ramp_s == 6


def test_traffic_spec_ramps_stages_and_limits() -> None:
    spec = TrafficSpec.model_validate({"rate": 500, "ramp": "5s"})
    assert Schedule.of(spec).count_by(5) == pytest.approx((50 + 500) / 2 * 5)  # from a tenth of the rate
    spec = TrafficSpec.model_validate({"rate": 500, "ramp": "2s", "start_rate": 100})
    assert Schedule.of(spec).rate_at(0) == 100
    staged = TrafficSpec.model_validate({"stages": [{"duration": "1s", "rate": 100}, {"duration": "1s", "rate": 800}]})
    assert staged.held_rate == 800 and Schedule.of(staged).rate_at(3) == 800
    assert TrafficSpec.model_validate({"rate": 5000}).rate == 5000
    assert TrafficSpec().connections == 4 and TrafficSpec(rate=500).connections == 25
    assert TrafficSpec().slo == 0.5
    for bad in ({"rate": 5001}, {"rate": 0}, {"ramp": "1s", "stages": [{"duration": "1s", "rate": 10}]},
                {"rate": 50, "stages": [{"duration": "1s", "rate": 10}]}, {"slo": 0}, {"workers": 0}):
        with pytest.raises(ValueError):
            TrafficSpec.model_validate(bad)


def test_a_bad_traffic_block_names_the_field(tmp_path: object) -> None:
    from pathlib import Path

    from harness.spec import catalogue

    src = catalogue.load_drill("canary-fail").drill_path.read_text()
    path = Path(str(tmp_path)) / "d.yaml"
    path.write_text(src.replace("rate: 50 ", "rate: 50\n  slo: -1\n  start_rate: 9000 "))
    with pytest.raises(SpecError) as caught:
        catalogue.load_drill(str(path))
    assert {i.field for i in caught.value.issues} == {"traffic.slo", "traffic.start_rate"}
    assert all(i.file == str(path) for i in caught.value.issues)


def _s(at: float, status: int = 200, latency: float = 0.01, version: str = "v2") -> Sample:
    return Sample(at, status, version, latency, True if status == 200 else None, False, 0.5 if status == 200 else None)


def test_per_second_counts_rollback_failures_and_slow_answers() -> None:
    t0 = 1000.0
    samples = [
        _s(t0 + 0.1), _s(t0 + 0.2, 503, version="v2"), _s(t0 + 0.3, latency=0.9),  # second 0: 3, 1 failed, 1 slow
        _s(t0 + 0.5, 500, version="v3"),  # the bad version's own error: not the rollback's
        _s(t0 + 0.6, latency=2.0, version="v3"),  # the bad version's own slowness: not counted slow
        _s(t0 + 1.5, 0), _s(t0 + 1.7, latency=0.3),  # second 1: a transport failure; 0.3 s is under the SLO
        _s(t0 + 2.2, latency=0.6),  # second 2: slow
    ]
    seconds = per_second(samples, t0, t0 + 2.5, slo_s=0.5, candidate="v3")
    assert [(c.t, c.requests, c.failed, c.slow) for c in seconds] == [(0, 5, 1, 1), (1, 2, 1, 0), (2, 1, 0, 1)]
    summary = summarise(samples, rollback_started=t0, completed=t0 + 2.5, baseline_error_rate=0.0, candidate="v3",
                        slo_s=0.5)
    assert summary.failed_during_rollback == 2 and summary.slow_during_rollback == 2
    assert summary.bad_responses_during_rollback == 1 and summary.rollback_seconds == seconds


def test_achieved_rate_per_phase_against_the_schedule() -> None:
    t0 = 2000.0

    def phase(name: str, a: float, b: float) -> PhaseResult:
        return PhaseResult(name, datetime.fromtimestamp(t0 + a, UTC), datetime.fromtimestamp(t0 + b, UTC), b - a, "ok")

    samples = [_s(t0 + i / 100) for i in range(300)]  # 100 requests/s for 3 s
    phases = [phase("prepare", -5, 0), phase("baseline", 0, 2), phase("detect", 2, 3), phase("teardown", 3, 4)]
    achieved, asked = phase_rates(samples, phases, lambda a, b: (b - a) * 120)
    assert achieved == {"baseline": 100.0, "detect": 100.0} and asked == {"baseline": 120.0, "detect": 120.0}


def test_load_generator_ramps_through_the_fake_router() -> None:
    """The requests sent follow the ramp's closed form; every one is recorded with its version and correctness."""
    target = FakeTarget(bad=set())
    target.prepare(lambda m: None)
    try:
        schedule = Schedule.ramp(20, 200, 1.0)
        load = LoadGenerator(target.traffic_endpoint, target.protocol, schedule, workers=8)
        with load:
            time.sleep(2.0)
        samples = load.samples()
        assert load.started_at is not None
        expected = schedule.count_by(2.0)  # 110 over the ramp + 200 after it
        assert 0.8 * expected <= load.offered <= 1.05 * expected, (load.offered, expected)
        assert len(samples) == load.offered  # each request sent is a sample, answered or not
        assert load.offered_between(load.started_at, load.started_at + 1.0) == pytest.approx(110)
        first = [s for s in samples if s.at < load.started_at + 0.5]
        last = [s for s in samples if load.started_at + 1.5 <= s.at < load.started_at + 2.0]
        assert len(last) > 2 * len(first)  # the rate really ramped (closed form: 100 against 32.5)
        assert {s.version for s in samples if s.ok} == {"v2"}
        assert all(s.correct is not None and s.latency_s > 0 for s in samples if s.ok)
        assert load.sender_cpu_s is not None  # the sender process reported its CPU at the end
    finally:
        target.close()


def test_load_generator_records_transport_failures_as_status_0() -> None:
    target = FakeTarget(bad={"v2"})
    target.prepare(lambda m: None)
    endpoint = target.traffic_endpoint
    target.close()  # nothing listens there any more
    load = LoadGenerator(endpoint, target.protocol, 100, workers=2, timeout=0.5)
    with load:
        time.sleep(0.5)
    samples = load.samples()
    assert samples and all(s.status == 0 and not s.ok and s.correct is None for s in samples)


def test_the_pressure_page_examples_validate() -> None:
    """Every ```yaml block of docs/pressure.md: a traffic block, or a whole drill."""
    import re
    from pathlib import Path

    import yaml

    from harness.spec.models import DrillSpec

    page = (Path(__file__).resolve().parents[2] / "docs" / "pressure.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", page, flags=re.S)
    assert len(blocks) >= 3
    for block in blocks:
        data = yaml.safe_load(block)
        if set(data) == {"traffic"}:
            TrafficSpec.model_validate(data["traffic"])
        else:
            DrillSpec.model_validate(data)


def test_settle_waits_for_the_slow_answers_still_in_flight() -> None:
    """Judging right after a cutoff would miss the overloaded server's answers: they are the ones not back yet."""
    import threading
    from http.server import ThreadingHTTPServer

    from harness.ports import Endpoint

    class EveryFifthSlow(QuietHandler):
        seen = 0

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            EveryFifthSlow.seen += 1
            if EveryFifthSlow.seen % 5 == 0:
                time.sleep(1.0)
            body = b'{"version": "v2", "score": 0.1, "prediction": 0}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), EveryFifthSlow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    target = FakeTarget()
    try:
        load = LoadGenerator(Endpoint("127.0.0.1", server.server_address[1]), target.protocol, 50, workers=16, timeout=3.0)
        with load:
            time.sleep(1.5)
            cutoff = time.time()
            before = [s for s in load.samples() if s.at < cutoff]
            out = load.settle(cutoff, until=cutoff + 4.0)
            after = [s for s in load.samples() if s.at < cutoff]
        assert out == 0
        slow_before = sum(s.latency_s > 0.9 for s in before)
        slow_after = sum(s.latency_s > 0.9 for s in after)
        assert len(after) > len(before) and slow_after > slow_before  # what came back late was the slow
        assert slow_after >= 0.15 * len(after), (slow_after, len(after))  # about one in five, all counted now
    finally:
        server.shutdown()
        server.server_close()


def test_settle_counts_only_what_was_sent_before_the_cutoff() -> None:
    """Requests started after the cutoff are not waited for: against a quick server, settling on a moment just past
    finds nothing still out (a count read after the cutoff would include the newest requests and wait in vain)."""
    target = FakeTarget(bad=set())
    target.prepare(lambda m: None)
    try:
        load = LoadGenerator(target.traffic_endpoint, target.protocol, 100, workers=8, timeout=2.0)
        outs = []
        with load:
            time.sleep(0.3)
            for _ in range(15):
                cutoff = time.time() - 0.2  # 20 requests have gone since
                outs.append(load.settle(cutoff, until=cutoff + 1.5))
                assert time.time() - cutoff < 1.0  # settled on the answers (each within ~50 ms), not on the deadline
        assert outs == [0] * 15
        assert load.offered == len(load.samples())
    finally:
        target.close()
