"""benchmarks/bench_judge.py's simulation and its threshold judge, so that the README's figures rest on checked parts."""

from __future__ import annotations

import importlib.util
import itertools
import math
import random
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_judge", ROOT / "benchmarks" / "bench_judge.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_judge"] = module
    spec.loader.exec_module(module)
    return module


def test_histogram_quantile_interpolates_like_promql(bench: ModuleType) -> None:
    counts = [0] * (len(bench.BUCKETS) + 1)
    counts[0], counts[1] = 50, 50  # 50 in (0, 5 ms], 50 in (5 ms, 10 ms]
    assert bench.histogram_quantile(0.5, counts) == pytest.approx(0.005)
    assert bench.histogram_quantile(0.9, counts) == pytest.approx(0.005 + 0.005 * 40 / 50)
    counts[-1] = 900  # most in +Inf: the highest finite bound, as PromQL answers
    assert bench.histogram_quantile(0.9, counts) == bench.BUCKETS[-1]
    assert bench.histogram_quantile(0.9, [0] * len(counts)) is None


def test_simulated_canary_has_the_asked_share_and_noise(bench: ModuleType) -> None:
    noise = bench.Noise()
    stable, cand, above = bench.simulate(random.Random(1), bench.scenarios(noise)["good"], noise, 50.0, 0.1, 60.0)
    total = sum(stable.requests) + sum(cand.requests)
    assert total == pytest.approx(3000, abs=5)
    assert sum(cand.requests) / total == pytest.approx(0.1, abs=0.02)
    assert sum(stable.errors) / sum(stable.requests) == pytest.approx(0.02, abs=0.008)
    assert sum(stable.slow) / sum(stable.answered) == pytest.approx(0.1, abs=0.05)  # the pre-deploy p90 is a p90
    assert 0.01 < above < 0.06


def test_both_judges_catch_a_blatant_fault_and_the_threshold_one_trips_on_noise(bench: ModuleType) -> None:
    noise = bench.Noise()
    slice_ = bench.scenarios(noise)["error_slice"]
    stable, cand, _ = bench.simulate(random.Random(2), slice_, noise, 50.0, 0.1, 60.0)
    assert bench.threshold_detect(stable, cand) is not None
    agree: list[bool] = []
    assert bench.sequential_detect(stable, cand, 0.01, agree) is not None
    assert agree == [True]  # the failing check's interval excludes no effect
    out = bench.run(200, 0, 50.0, 0.1, 60.0, 0.01, 3,
                    validity_runs={"good-canary": 200, "errors-less-600s": 20, "good-shadow": 50}, verify_runs=0,
                    promote_runs=0)
    judges = out["judges"]
    assert judges["threshold"]["false_rollback_rate"] > 0.3  # the measured problem
    assert judges["sequential"]["false_rollback_rate"] <= 0.03
    assert out["validity"]["errors-less-600s"]["runs"] == 20


def test_the_json_has_the_issue_26_keys(bench: ModuleType) -> None:
    out = bench.run(10, 6, 50.0, 0.1, 60.0, 0.01, 5,
                    validity_runs={"good-canary": 10, "errors-less-600s": 2, "good-shadow": 10}, verify_runs=5,
                    promote_runs=2)
    for setup in ("good-canary", "errors-less-600s", "good-shadow"):
        assert set(out["validity"][setup]) == {"false_rollback_rate", "runs"}
    assert 0.0 <= out["interval_agreement"] <= 1.0
    assert out["oracle"]["detect_s"]["accuracy"] is None or out["oracle"]["detect_s"]["accuracy"] > 0
    assert set(out["judges"]["sequential"]["detect_s"]) == {"error_slice", "latency", "accuracy"}
    assert {"leftover_3pct", "good_background_2pct"} <= set(out["verify_error_rate"])
    assert out["promote_s"]["runs"] == 2


def test_the_benchmark_runs_the_judges_e_process(bench: ModuleType) -> None:
    # judge_validity.Looks keeps the e-value bin by bin; conditional.test recounts: the same number
    looks = bench.judge_validity.Looks(0.03)
    bins = [[(1, 3, 22, 1), (0, 3, 20, 2), (1, 2, 21, 3)], [(0, 2, 23, 1), (2, 4, 20, 2), (0, 3, 22, 0)]] * 5
    for b in bins:
        looks.add(b)
    for i, (_, prior, _) in enumerate(bench.judge_validity.CHECKS):
        expected = bench.conditional.test([b[i] for b in bins], 0.01, prior, with_cs=False).e_value
        assert math.exp(looks.running[i].log_e()) == pytest.approx(expected, rel=1e-9)


def test_mirrored_traffic_categories_match_closed_forms(bench: ModuleType) -> None:
    noise = bench.Noise()
    kinds = bench.mirrored(noise)
    cumulative, keys = bench.paired_traffic.categories(kinds["good"], kinds["error_slice"], bench.MODEL_WRONG, 0.02, 0.5)
    probs = [cumulative[0]] + [b - a for a, b in itertools.pairwise(cumulative)]
    assert cumulative[-1] == pytest.approx(1.0)

    def share(check: int, outcome: int) -> float:
        return sum(p for p, k in zip(probs, keys) if k[check] == outcome)

    e_s, e_c = noise.error_rate, kinds["error_slice"].error_rate
    assert share(0, 1) == pytest.approx(e_c * (1 - e_s))  # candidate-only errors
    assert share(0, 2) == pytest.approx(e_s * (1 - e_c))
    answered = (1 - e_s) * (1 - e_c)
    assert share(1, 1) == pytest.approx(answered * 0.1 * 0.9)  # slow alike: a tenth each, independently
    assert share(2, 1) + share(2, 2) + share(2, 0) == pytest.approx(answered * 0.5)  # the labelled half
    assert share(3, 1) == pytest.approx(share(3, 2))  # the same model as the secondary: symmetric disagreement


def test_paired_judge_catches_the_accuracy_drop_that_the_canary_judges_miss(bench: ModuleType) -> None:
    rng = random.Random(4)
    noise = bench.Noise()
    caught = [bench.paired_detect(rng, noise, "accuracy", 50.0, 60.0, 0.01, 0.02, 1.0) for _ in range(30)]
    assert sum(t is not None for t in caught) == 30
    assert sorted(caught)[15] <= 15.0  # type: ignore[type-var]
    false = sum(bench.paired_detect(rng, noise, "good", 50.0, 60.0, 0.01, 0.02, 1.0) is not None for _ in range(200))
    assert false <= 4


def test_control_alpha_counts_false_rollbacks_within_the_bound() -> None:
    """benchmarks/control_alpha.py (the figures behind the controls' alpha 0.002 in docs/detection.md): its good
    canaries are rolled back at most alpha of the time (Ville), and a candidate worse on every measure is."""
    spec = importlib.util.spec_from_file_location("control_alpha", ROOT / "benchmarks" / "control_alpha.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    result = module.measure(300, seed=3, alphas=(0.01, 0.002))
    assert set(result) == {"0.01", "0.002"}
    for r in result.values():  # P(Binomial(300, 0.01) > 10) < 1e-4
        assert r["runs"] == 300 and 0 <= r["within_first_5s"] <= r["false_rollbacks"] <= 10
    worse = module.RATES[0] * 10, module.RATES[1] * 3, module.RATES[2] * 3
    caught_at = module.rolled_back_at(random.Random(1), 0.002, worse)
    assert caught_at is not None and caught_at <= 20.0  # the same judge sees a bad candidate: its zero is not a blind one


def test_the_simulated_pair_outcomes_are_the_paired_judges(bench: ModuleType) -> None:
    """benchmarks/paired_traffic.outcome repeats PairedJudge.add's rules (the simulation enumerates outcomes rather
    than calling the judge per request): every combination of the three answers, labelled or not, must count alike."""
    traffic, paired = bench.paired_traffic, bench.paired
    code = {(False, False): traffic.NONE, (True, False): traffic.WORSE, (False, True): traffic.BETTER,
            (True, True): traffic.NONE}

    def answer(error: bool, slow: bool, wrong: bool, labelled: bool) -> object:
        label = 1
        return paired.Answer(500 if error else 200, 1.0 if slow else 0.01, label - 1 if wrong else label,
                             (not wrong) if labelled and not error else None)

    flags = (True, False)
    seen = set()
    for labelled, stable, cand, second in itertools.product(flags, itertools.product(flags, repeat=3),
                                                            itertools.product(flags, repeat=3),
                                                            itertools.product(flags, repeat=3)):
        judge = paired.PairedJudge(0.01, latency_above=0.5)
        judge.add(paired.PairedRecord(0.0, answer(*stable, labelled), answer(*cand, labelled),
                                      answer(*second, labelled)))
        got = []
        for m in traffic.CHECKS:
            c = judge.counts[m]
            got.append(-1 if c.pairs == 0 else code[(c.worse + c.both > 0, c.better + c.both > 0)])
        expected = traffic.outcome(stable, cand, (second[0], second[2]), labelled)
        assert tuple(got) == expected, (labelled, stable, cand, second)
        seen.add(expected)
    assert len(seen) > 20  # the combinations reach most joint outcomes, not one
