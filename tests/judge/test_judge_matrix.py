"""The judge's wiring, without Docker: baselines per strategy, and every detection kind under canary and
blue-green on simulated client-side samples with background noise (bad versions caught, good ones not)."""

from __future__ import annotations

import json
import random
from dataclasses import replace

import pytest

from harness.engine.results import Evidence, EvidencePoint
from harness.judge import analysis
from harness.report.load import result_from_json
from harness.spec.models import CompareCheck, DetectionSpec, MetricCheck
from harness.traffic.generator import Sample

DEPLOYED = 1000.0
STABLE, CANDIDATE = "v2", "v3"
MEASURES = ("error", "latency", "incorrect", "out_of_range", "forbidden")


class FakeProm:
    """Answers PromQL with canned values (a fake injected where Prometheus would be)."""

    def __init__(self, values: dict[str, float | None]) -> None:
        self.values = values

    def query(self, expr: str) -> float | None:
        return self.values.get(expr)


def request(rng: random.Random, at: float, version: str, bad: str | None) -> Sample:
    """One labelled request with background noise (2 % errors, latency jitter, 5 % wrong answers) and a fault."""
    protected = rng.random() < 0.16
    if rng.random() < 0.02 or (bad == "error" and rng.random() < 0.3):
        return Sample(at, 503, version, 0.002, None, protected, None)
    latency = 0.003 + rng.expovariate(100.0) + (0.3 if bad == "latency" else 0.0)
    correct = rng.random() >= (0.5 if bad == "incorrect" else 0.05)
    score = rng.random() * (3.0 if bad == "out_of_range" else 1.0)
    prediction = 2 if bad == "forbidden" and protected else int(score >= 0.5)
    return Sample(at, 200, version, latency, correct, protected, score, prediction)


def traffic(seed: int, weight: int, bad: str | None, after_s: float = 20.0, rate: float = 50.0) -> list[Sample]:
    """3 s of stable-only traffic, then ``weight`` % to the candidate (random assignment, as a weighted router)."""
    rng = random.Random(seed)
    out = [request(rng, DEPLOYED - 3 + i / rate, STABLE, None) for i in range(int(3 * rate))]
    out += [transport_failure := Sample(DEPLOYED - 1, 0, None, 5.0, None, False, None)]
    assert transport_failure.version is None  # unattributed failures belong to no arm
    for i in range(int(after_s * rate)):
        cand = rng.random() < weight / 100
        out.append(request(rng, DEPLOYED + i / rate, CANDIDATE if cand else STABLE, bad if cand else None))
    return out


def split(samples: list[Sample], weight: int) -> analysis.SampleSplit:
    return analysis.split_samples(samples, DEPLOYED, STABLE, CANDIDATE, weight)


def test_canary_is_compared_with_stable_beside_it() -> None:
    s = split(traffic(1, 10, None), 10)
    assert s.source == analysis.CONCURRENT and not s.pre_deploy and s.share == 0.1
    assert all(x.version == STABLE and x.at >= DEPLOYED for x in s.baseline)
    assert all(x.version == CANDIDATE for x in s.candidate) and s.candidate
    assert all(x.version == STABLE and x.at < DEPLOYED for x in s.reference) and len(s.reference) == 150


@pytest.mark.parametrize("weight", [100])
def test_a_full_switch_is_compared_with_the_pre_deploy_window(weight: int) -> None:
    s = split(traffic(1, weight, None), weight)
    assert s.source == analysis.PRE_DEPLOY and s.pre_deploy and s.share == 1.0
    assert s.baseline == s.reference and len(s.baseline) == 150 and all(x.at < DEPLOYED for x in s.baseline)
    assert len(s.candidate) == 1000


def test_nothing_to_split_before_the_deploy() -> None:
    s = analysis.split_samples(traffic(1, 10, None), None, STABLE, CANDIDATE, 10)
    assert s.baseline == s.candidate == s.reference == ()


@pytest.mark.parametrize("measure", MEASURES)
@pytest.mark.parametrize(("strategy", "weight"), [("canary", 10), ("blue-green", 100)])
def test_every_kind_catches_a_bad_version_under_every_strategy(measure: str, strategy: str, weight: int) -> None:
    check = CompareCheck.model_validate({"name": f"client-{measure}", "measure": measure})
    # 40 s: a forbidden answer is judged on protected requests only (16 %), and a check decides on 20 or more.
    j = analysis.judge(FakeProm({}), [], [check], split(traffic(2, weight, measure, after_s=40.0), weight), alpha=0.01)
    e = j.evidence[0]
    assert j.verdict == "fail" and j.breached, e
    assert e.kind == "sequential" and e.e_value is not None and e.e_value >= e.threshold == pytest.approx(100.0)
    assert e.baseline_source == (analysis.PRE_DEPLOY if strategy == "blue-green" else analysis.CONCURRENT)
    # The effect is the candidate's event rate over the baseline's (None while the baseline has no events);
    # the one-sided confidence sequence excludes no effect (1), as the rejection says.
    assert e.lower is not None and e.lower > 1 and e.upper is None
    assert e.effect_size is None or e.lower <= e.effect_size


@pytest.mark.parametrize(("strategy", "weight"), [("canary", 10), ("blue-green", 100)])
def test_a_good_noisy_version_is_let_through_under_every_strategy(strategy: str, weight: int) -> None:
    checks = [CompareCheck.model_validate({"name": m, "measure": m}) for m in MEASURES]
    for seed in range(20):
        j = analysis.judge(FakeProm({}), [], checks, split(traffic(100 + seed, weight, None, after_s=30), weight),
                           alpha=0.01)
        assert j.verdict != "fail", [e for e in j.evidence if e.breached]
        assert all(e.threshold == pytest.approx(len(MEASURES) / 0.01) for e in j.evidence)  # alpha split evenly


@pytest.mark.parametrize(("strategy", "weight"), [("canary", 10), ("blue-green", 100)])
def test_guard_counters_via_promql_under_every_strategy(strategy: str, weight: int) -> None:
    guard = MetricCheck(name="candidate-forbidden-outputs", query="forbidden", failure_above=0)
    s = split(traffic(3, weight, None), weight)
    assert analysis.judge(FakeProm({"forbidden": 2.0}), [guard], [], s).verdict == "fail"
    assert analysis.judge(FakeProm({"forbidden": 0.0}), [guard], [], s).verdict == "pass"


def test_mann_whitney_still_available_and_has_a_baseline_after_a_full_switch() -> None:
    check = CompareCheck(name="mw", measure="incorrect", method="mann-whitney", min_effect=0.6)
    j = analysis.judge(FakeProm({}), [], [check], split(traffic(4, 100, "incorrect"), 100))
    e = j.evidence[0]
    assert e.kind == "compare" and e.threshold == 0.001 and e.baseline_source == analysis.PRE_DEPLOY
    assert j.verdict == "fail"


def test_alpha_is_split_over_the_sequential_checks_only() -> None:
    seq = [CompareCheck(name="a", measure="error"), CompareCheck(name="b", measure="latency")]
    mw = CompareCheck(name="c", measure="incorrect", method="mann-whitney")
    own = CompareCheck(name="d", measure="error", alpha=0.002)
    assert analysis.check_alpha(seq[0], [*seq, mw], 0.01) == pytest.approx(0.005)
    assert analysis.check_alpha(mw, [*seq, mw], 0.01) == 0.001
    assert analysis.check_alpha(own, [*seq, own], 0.01) == 0.002
    assert DetectionSpec(compare=seq).alpha == 0.01 and seq[0].method == "sequential"


def test_latency_threshold_is_the_reference_order_statistic() -> None:
    ref = [Sample(0, 200, STABLE, k / 100, True, False, 0.5, 1) for k in range(1, 11)] + [
        Sample(0, 500, STABLE, 9.0, None, False, None)]  # failures do not count
    assert analysis.latency_threshold(ref, 0.9) == pytest.approx(0.09)
    assert analysis.latency_threshold([], 0.9) is None
    check = CompareCheck(name="lat", measure="latency")
    empty = analysis.SampleSplit((), (), (), 0.1, analysis.CONCURRENT)
    assert analysis.sequential_check(check, empty, 0.01).verdict == "inconclusive"


def test_trace_points_per_check_kind() -> None:
    samples = traffic(5, 10, "error")
    j = analysis.judge(FakeProm({"q": 0.3}), [MetricCheck(name="ratio", query="q", failure_above=0.05)],
                       [CompareCheck(name="seq", measure="error"),
                        CompareCheck(name="mw", measure="error", method="mann-whitney")], split(samples, 10))
    points = {p.check: p for p in analysis.trace_points(j.evidence, 2.5)}
    assert set(points) == {"ratio", "seq", "mw"} and all(p.t_s == 2.5 for p in points.values())
    seq = next(e for e in j.evidence if e.metric == "seq")
    assert points["seq"].statistic == seq.e_value and points["seq"].threshold == pytest.approx(100.0)
    assert points["seq"].lower == seq.lower and points["seq"].upper == seq.upper
    assert points["ratio"].statistic == 0.3 and points["ratio"].threshold == 0.05


def test_steady_state_after_promotion_is_judged_against_the_noise() -> None:
    ref = [s for s in traffic(6, 10, None) if s.at < DEPLOYED and s.version == STABLE]
    assert analysis.error_rate_held(2, 50, ref)  # 4 % on 50 requests: within noise of a 2 % baseline
    assert not analysis.error_rate_held(15, 50, ref)  # 30 %: not
    rng, false = random.Random(8), 0
    for _ in range(2000):
        false += not analysis.error_rate_held(sum(rng.random() < 0.02 for _ in range(50)), 50, ref)
    assert false / 2000 <= 0.02


def test_sequential_evidence_and_trace_round_trip_through_report_json() -> None:
    from tests.report.test_reports import make_result

    e = analysis.judge(FakeProm({}), [], [CompareCheck(name="seq", measure="error")],
                       split(traffic(9, 100, "error"), 100)).evidence[0]
    result = replace(make_result(), evidence=(e, Evidence("m", "q", "pass", 0.01, 0.05, 20.0, 15)),
                     evidence_trace=(EvidencePoint(0.5, "seq", 3.2, 100.0, 0.1, -0.05, 0.3),
                                     EvidencePoint(1.0, "seq", 250.0, 100.0, 0.25, 0.1, 0.4)))
    back = result_from_json(json.loads(json.dumps(result.to_json())))
    assert back == result
    assert back.evidence[0].kind == "sequential" and back.evidence[0].baseline_source == analysis.PRE_DEPLOY
    assert back.evidence[0].breached


def test_headline_says_what_crossed_which_limit() -> None:
    j = analysis.judge(FakeProm({"q": 0.3}), [MetricCheck(name="ratio", query="q", failure_above=0.05)],
                       [CompareCheck(name="seq", measure="error")], split(traffic(5, 100, "error"), 100))
    ratio, seq = j.evidence
    assert ratio.headline == "ratio = 0.3 > 0.05"
    assert seq.headline.startswith("seq: e-value ") and "vs 100 (1/alpha)" in seq.headline
    assert "pre-deploy window" in seq.headline
