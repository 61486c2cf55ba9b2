"""The paired shadow judge (harness.judge.paired) against closed forms, exact crossing probabilities and
simulation: type-I error with a look after every pair stays at most alpha (also with nondeterministic
answers and background errors); power on a 5-point accuracy drop; the paired effect's confidence sequence."""

from __future__ import annotations

import math
import random

import pytest

from harness.judge import paired as pj
from harness.judge import sequential as sq


def test_e_value_closed_forms() -> None:
    for n in range(1, 12):  # only candidate-only pairs: 2 * ∫_{1/2}^1 (2q)^n dq = (2^(n+1) - 1) / (n + 1)
        assert pj.paired_e_value(n, 0) == pytest.approx((2 ** (n + 1) - 1) / (n + 1))
    assert pj.paired_e_value(1, 1) == pytest.approx(2 / 3)  # 2 * ∫ 4 q (1 - q) over (1/2, 1] = 2/3
    assert pj.paired_e_value(0, 0) == 1.0
    for n in range(1, 8):  # only reference-only pairs: 2 * ∫_{1/2}^1 (2(1 - q))^n dq = 1 / (n + 1)
        assert pj.paired_e_value(0, n) == pytest.approx(1 / (n + 1))


def test_concordant_pairs_carry_no_evidence() -> None:
    counts = pj.Discordance()
    for _ in range(500):
        counts.add(True, True)  # both wrong: the model's own hard inputs
        counts.add(False, False)
    assert pj.paired_test("incorrect", counts, 0.01).e_value == 1.0
    assert counts.pairs == 1000 and counts.discordant == 0


def test_rejection_boundary_is_the_smallest_rejecting_count() -> None:
    alpha = 0.0025
    for n in (5, 12, 40, 200):
        k = pj.rejection_boundary(n, alpha)
        if k is None:
            assert pj.paired_e_value(n, 0) < 1 / alpha
            continue
        assert pj.paired_e_value(k, n - k) >= 1 / alpha
        assert k == 0 or pj.paired_e_value(k - 1, n - k + 1) < 1 / alpha
    assert pj.rejection_boundary(5, alpha) is None  # (2^6 - 1) / 6 = 10.5 < 400


@pytest.mark.parametrize("alpha", [0.05, 0.01])
def test_exact_type_one_error_under_continuous_monitoring(alpha: float) -> None:
    # The exact probability that a look after every one of 1,000 discordant pairs ever rejects, q = 1/2.
    crossed = pj.crossing_probability(0.5, 1000, alpha)
    assert 0.0 < crossed <= alpha
    # A fixed-sample one-sided binomial test at the same alpha, applied at every look, rejects far more often:
    # the computation can tell a test that peeks from one that may.
    def naive(n: int, a: float) -> int | None:
        return next((k for k in range(1, n + 1) if sq.betainc(k, n - k + 1, 0.5) < a), None)  # P(Bin(n, 1/2) >= k) < a

    assert pj.crossing_probability(0.5, 300, alpha, naive) > 3 * alpha


def test_exact_power_on_a_clear_effect() -> None:
    # 5 points less accurate, 1 % wrong by chance each: about 6 candidate-only per 1 stable-only discordant pair.
    assert pj.crossing_probability(6 / 7, 60, 0.0025) > 0.95
    assert pj.crossing_probability(0.5, 60, 0.0025) < 0.0025


def _answer(rng: random.Random, wrong: float, nondet: float, error: float, label: int, extra_s: float = 0.0) -> pj.Answer:
    if rng.random() < error:
        return pj.Answer(503, 0.002)
    latency = 0.002 + rng.expovariate(100) + extra_s
    prediction = rng.randrange(2) if rng.random() < nondet else (1 - label if rng.random() < wrong else label)
    return pj.Answer(200, latency, prediction, None)


def _record(rng: random.Random, cand_wrong: float, labelled: bool, nondet: float = 0.1, error: float = 0.02,
            hard: float = 0.04, extra_s: float = 0.0) -> pj.PairedRecord:
    label = rng.randrange(2)
    is_hard = rng.random() < hard  # the model's own mistakes: the same inputs for every version

    def one(wrong: float, extra: float = 0.0) -> pj.Answer:
        a = _answer(rng, wrong, nondet, error, 1 - label if is_hard else label, extra)
        correct = (a.prediction == label) if labelled and a.ok else None
        return pj.Answer(a.status, a.latency_s, a.prediction, correct if labelled else None)

    return pj.PairedRecord(0.0, one(0.01), one(cand_wrong, extra_s), one(0.01))


def test_simulated_false_rollbacks_stay_under_alpha_with_nondeterministic_answers() -> None:
    rng = random.Random(5)
    alpha, runs, requests = 0.05, 300, 1500
    false = 0
    for _ in range(runs):
        judge = pj.PairedJudge(alpha)
        for i in range(requests):
            judge.add(_record(rng, 0.01, labelled=i % 2 == 0, nondet=0.2))
            if judge.rejected():  # a look after every pair
                false += 1
                break
    assert false / runs <= alpha  # Ville: at most alpha; in practice well under it


def test_simulated_power_on_an_accuracy_drop_and_a_latency_fault() -> None:
    rng = random.Random(6)
    for cand_wrong, extra in ((0.06, 0.0), (0.01, 0.3)):  # 5 points less accurate; +300 ms
        caught = []
        for _ in range(40):
            judge = pj.PairedJudge(0.01)
            for i in range(1500):  # 30 s at 50 requests/s
                judge.add(_record(rng, cand_wrong, labelled=True, nondet=0.02, extra_s=extra))
                if judge.rejected():
                    caught.append(i)
                    break
        assert len(caught) >= 38
        assert sorted(caught)[len(caught) // 2] < 500  # the median within 10 s at 50 requests/s


def test_a_copy_of_the_stable_disagrees_no_more_than_the_noise_floor() -> None:
    rng = random.Random(7)
    judge = pj.PairedJudge(0.01, measures=("disagreement",))
    for _ in range(3000):
        judge.add(_record(rng, 0.01, labelled=False, nondet=0.3))
    (out,) = judge.look()
    assert out.counts.pairs > 2000 and out.counts.discordant > 300  # much disagreement, all of it noise
    assert not out.rejected
    assert out.lower is not None and out.upper is not None and out.lower <= 0.0 <= out.upper
    different = pj.PairedJudge(0.01, measures=("disagreement",))
    for _ in range(3000):
        different.add(_record(rng, 0.2, labelled=False, nondet=0.3))
    assert different.look()[0].rejected


def test_effect_confidence_sequence_covers_the_true_effect() -> None:
    # P(candidate wrong) - P(stable wrong) with worse 6 %, better 1 %: the effect is 0.05.
    rng = random.Random(8)
    misses = 0
    for _ in range(200):
        counts = pj.Discordance()
        missed = False
        for n in range(1, 801):
            u = rng.random()
            counts.add(u < 0.06, 0.06 <= u < 0.07)
            if n % 50 == 0:
                _, lo, hi = pj.effect_cs(counts, 0.1)
                assert lo is not None and hi is not None
                missed = missed or not lo <= 0.05 <= hi
        misses += missed
    assert misses / 200 <= 0.1
    effect, lo, hi = pj.effect_cs(pj.Discordance(1000, 20, 60, 10), 0.01)
    assert effect == pytest.approx(0.05)
    assert lo is not None and hi is not None and 0.0 < lo < 0.05 < hi < 0.11


def test_dropped_copies_and_errors_are_counted_apart() -> None:
    judge = pj.PairedJudge(0.01, measures=("error", "incorrect"))
    ok = pj.Answer(200, 0.01, 1, True)
    judge.add(pj.PairedRecord(0.0, ok, None))  # the tee's queue was full: not a pair
    judge.add(pj.PairedRecord(0.0, ok, pj.Answer(0, 5.0)))  # the candidate timed out: its error
    assert judge.dropped == 1 and judge.records == 2
    assert judge.counts["error"].worse == 1 and judge.counts["incorrect"].pairs == 0
    assert judge.check_alpha == pytest.approx(0.005)


def test_latency_threshold_is_fixed_on_the_warmup_and_then_judged() -> None:
    judge = pj.PairedJudge(0.01, measures=("latency",), warmup=10)
    for i in range(10):
        judge.add(pj.PairedRecord(0.0, pj.Answer(200, 0.01 * (i + 1)), pj.Answer(200, 0.5)))
    assert judge.latency_above == pytest.approx(0.09) and judge.counts["latency"].pairs == 0
    for _ in range(20):
        judge.add(pj.PairedRecord(0.0, pj.Answer(200, 0.01), pj.Answer(200, 0.5)))
    assert judge.look()[0].rejected


def test_bad_configuration_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown paired measures"):
        pj.PairedJudge(0.01, measures=("colour",))
    with pytest.raises(ValueError, match="alpha"):
        pj.PairedJudge(0.0)
    assert math.isfinite(pj.paired_e_value(3000, 0))
