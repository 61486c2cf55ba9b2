"""Side by side, no Docker: the threshold judge, the sequential judge the drills run and the paired (shadow) judge
on the same simulated canaries; the validity of the sequential and paired judges; verify.error_rate's pass rates.

    python benchmarks/bench_judge.py            # the table
    python benchmarks/bench_judge.py --json     # every figure below

Traffic: ``--rate`` requests per second (50), a ``--weight`` % canary (10), every version with background
noise (2 % errors, an exponential latency jitter of mean 10 ms, 1 % wrong answers on top of the model's
own 4 %). The judges look every 0.5 s.

* threshold judge — the control drill's checks before issue 9: candidate 5xx ratio over the last 10 s
  > 5 % (at least 15 requests) and candidate p90 latency over 10 s > 200 ms (from histogram buckets,
  as PromQL's histogram_quantile), both as Prometheus sees them (1 s scrapes); and a one-sided
  Mann-Whitney test of wrong answers against the stable version (alpha 0.001, effect >= 0.7) at each look.
* sequential judge — as the drills run it (judge_validity.Looks): the exposure-aware conditional e-processes
  of errors, latency (answers slower than the pre-deploy p90) and wrong answers against the stable version,
  alpha = 0.01 split over the three, a look failing through analysis.look_verdict with the catalogue's
  min_samples guards (errors 8, the others 20).
* paired judge — harness.judge.paired on shadow traffic: every request mirrored to the candidate and to
  a second stable instance (benchmarks/paired_traffic.py), the same noise plus ``--nondet`` (2 %) of every
  version's answers a coin flip; discordant pairs of errors, slow answers, wrong answers (the ``--labelled``
  share of requests, all by default) and disagreements, alpha = 0.01 split over the four.

JSON keys: ``judges.<judge>.{false_rollback_rate, detect_s, detected}`` — false rollbacks of good canaries
within ``--window`` (the sequential and paired ones are ``validity.good-canary`` and ``validity.good-shadow``),
the median seconds from deploy to the decision for a bad canary (an error slice of 30 % of its inputs, +300 ms,
a 5-point accuracy drop; watched for ``--detect-window``, the accuracy drop for at least 300 s; a run not
detected counts as never, so the median is null when fewer than half were caught) and the share caught;
``oracle.detect_s.accuracy`` — Wald's SPRT with the effect known, at the same per-check alpha;
``validity.<setup>.{false_rollback_rate, runs}`` for good-canary, errors-less-600s (stable 20 % errors,
candidate none, 600 s) and good-shadow; ``interval_agreement`` — the share of failing checks (canary and shadow)
whose reported interval excludes no effect; ``promote_s.good`` — the median seconds until every check of a
good canary passes (shown not worse by the 0.1 margin); ``verify_error_rate.{leftover_3pct,
good_background_2pct}`` — pass rates of the real step on simulated rollbacks (benchmarks/verify_sim.py).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import sys
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from harness.judge import analysis, conditional, paired, sequential
from harness.serving.model_server import BUCKETS

sys.path.insert(0, str(Path(__file__).resolve().parent))
import judge_validity
import paired_traffic
import verify_sim

BIN_S = 0.5  # the detection loop's interval
MODEL_WRONG = 0.04  # the demo model's own error rate on labelled traffic (accuracy ~0.96)


@dataclass(frozen=True)
class Version:
    error_rate: float
    extra_latency_s: float
    wrong_rate: float


@dataclass(frozen=True)
class Noise:
    error_rate: float = 0.02
    jitter_s: float = 0.010
    wrong_rate: float = 0.01


def scenarios(noise: Noise) -> dict[str, Version]:
    good = Version(noise.error_rate, 0.0, MODEL_WRONG + noise.wrong_rate)
    return {
        "good": good,
        "error_slice": Version(1 - (1 - noise.error_rate) * 0.7, 0.0, good.wrong_rate),  # 30 % of inputs fail
        "latency": Version(noise.error_rate, 0.300, good.wrong_rate),
        "accuracy": Version(noise.error_rate, 0.0, good.wrong_rate + 0.05),  # 5 points less accurate
    }


@dataclass
class Arm:
    """Per-bin counts of one arm, by completion time (when the client and the server see an answer)."""

    requests: list[int]
    errors: list[int]
    answered: list[int]
    wrong: list[int]
    slow: list[int]  # answered slower than the pre-deploy p90
    buckets: list[list[int]] = field(default_factory=list)  # latency histogram per bin (BUCKETS and +Inf)

    @classmethod
    def empty(cls, bins: int) -> Arm:
        return cls([0] * bins, [0] * bins, [0] * bins, [0] * bins, [0] * bins,
                   [[0] * (len(BUCKETS) + 1) for _ in range(bins)])


def _latency(rng: random.Random, noise: Noise, extra: float) -> float:
    return 0.002 + rng.expovariate(1 / noise.jitter_s) + extra


def simulate(rng: random.Random, cand: Version, noise: Noise, rate: float, weight: float, seconds: float,
             baseline_s: float = 3.0) -> tuple[Arm, Arm, float]:
    """One canary: (stable, candidate) per-bin counts and the latency threshold from the pre-deploy window."""
    good = scenarios(noise)["good"]
    reference = [_latency(rng, noise, 0.0) for _ in range(int(baseline_s * rate)) if rng.random() >= good.error_rate]
    above = sequential.empirical_quantile(reference, 0.9)
    bins = int(seconds / BIN_S)
    stable, candidate = Arm.empty(bins), Arm.empty(bins)
    for i in range(int(seconds * rate)):
        sent = i / rate
        is_cand = rng.random() < weight
        arm, v = (candidate, cand) if is_cand else (stable, good)
        failed = rng.random() < v.error_rate
        latency = 0.002 if failed else _latency(rng, noise, v.extra_latency_s)
        b = int((sent + latency) / BIN_S)
        if b >= bins:
            continue
        arm.requests[b] += 1
        arm.buckets[b][next((k for k, le in enumerate(BUCKETS) if latency <= le), len(BUCKETS))] += 1
        if failed:
            arm.errors[b] += 1
            continue
        arm.answered[b] += 1
        arm.wrong[b] += rng.random() < v.wrong_rate
        arm.slow[b] += latency > above
    return stable, candidate, above


def histogram_quantile(q: float, counts: list[int]) -> float | None:
    """PromQL's histogram_quantile over one window's bucket counts (linear within a bucket)."""
    total = sum(counts)
    if total == 0:
        return None
    rank, seen = q * total, 0
    for k, n in enumerate(counts):
        if seen + n >= rank and n > 0:
            if k == len(BUCKETS):
                return BUCKETS[-1]
            lower = BUCKETS[k - 1] if k else 0.0
            return lower + (BUCKETS[k] - lower) * (rank - seen) / n
        seen += n
    return BUCKETS[-1]


def threshold_detect(stable: Arm, cand: Arm, window_s: float = 10.0, scrape_s: float = 1.0) -> float | None:
    """Seconds to the first failing look of the threshold judge, or None."""
    per_scrape, per_window = int(scrape_s / BIN_S), int(window_s / BIN_S)
    cum_b_ans = cum_b_wrong = cum_c_ans = cum_c_wrong = 0
    for look in range(1, len(cand.requests) + 1):
        cum_b_ans, cum_b_wrong = cum_b_ans + stable.answered[look - 1], cum_b_wrong + stable.wrong[look - 1]
        cum_c_ans, cum_c_wrong = cum_c_ans + cand.answered[look - 1], cum_c_wrong + cand.wrong[look - 1]
        scraped = look // per_scrape * per_scrape  # Prometheus holds counters as of the last scrape
        lo = max(0, scraped - per_window)
        requests = sum(cand.requests[lo:scraped])
        if scraped >= 2 * per_scrape and requests >= 15:  # increase() needs two scrapes in the window
            if sum(cand.errors[lo:scraped]) / requests > 0.05:
                return look * BIN_S
            hist = [sum(col) for col in zip(*cand.buckets[lo:scraped], strict=True)]
            p90 = histogram_quantile(0.9, hist)
            if p90 is not None and p90 > 0.2:
                return look * BIN_S
        if cum_b_ans >= 20 and cum_c_ans >= 20:
            mw = analysis.mann_whitney_binary(cum_b_wrong, cum_b_ans, cum_c_wrong, cum_c_ans)
            if mw is not None and mw.p_value < 0.001 and mw.effect_size >= 0.7:
                return look * BIN_S
    return None


def _bins(stable: Arm, cand: Arm, i: int) -> list[conditional.Bin]:
    """Bin i's (candidate events, candidate exposure, stable exposure, events) for errors, slow and wrong answers."""
    return [(cand.errors[i], cand.requests[i], stable.requests[i], cand.errors[i] + stable.errors[i]),
            (cand.slow[i], cand.answered[i], stable.answered[i], cand.slow[i] + stable.slow[i]),
            (cand.wrong[i], cand.answered[i], stable.answered[i], cand.wrong[i] + stable.wrong[i])]


def sequential_detect(stable: Arm, cand: Arm, alpha: float, agree: list[bool] | None = None) -> float | None:
    """Seconds to the first look where one of the three sequential checks fails as the drills decide it
    (judge_validity.Looks: the judge's e-processes, alpha split and min_samples guards), or None.
    ``agree`` collects whether the failing check's reported interval excludes no effect."""
    looks = judge_validity.Looks(alpha)
    for i in range(len(cand.requests)):
        looks.add(_bins(stable, cand, i))
        failed = looks.failed()
        if failed is not None:
            if agree is not None:
                agree.append(looks.interval_agrees(failed))
            return (i + 1) * BIN_S
    return None


def oracle_detect(cand: Arm, p0: float, p1: float, alpha: float) -> float | None:
    """The SPRT with the effect known: the candidate's labelled answers, wrong with p1 against p0, at the
    per-check alpha (Wald's boundary 1/alpha); what no test that must learn the effect can beat."""
    up, down, bound, llr = math.log(p1 / p0), math.log((1 - p1) / (1 - p0)), math.log(3 / alpha), 0.0
    for i in range(len(cand.requests)):
        llr += cand.wrong[i] * up + (cand.answered[i] - cand.wrong[i]) * down
        if llr >= bound:
            return (i + 1) * BIN_S
    return None


def _median(times: list[float | None]) -> float | None:
    """Median with undetected runs counted as never (None when fewer than half were detected)."""
    ordered = sorted(math.inf if t is None else t for t in times)
    m = statistics.median(ordered) if ordered else math.inf
    return None if math.isinf(m) else round(m, 2)


def mirrored(noise: Noise) -> dict[str, paired_traffic.Mirrored]:
    """The same versions as ``scenarios`` on shadow traffic: slow is "slower than the stable's p90"."""
    good = paired_traffic.Mirrored(noise.error_rate, 0.1, noise.wrong_rate)
    return {
        "good": good,
        "error_slice": paired_traffic.Mirrored(1 - (1 - noise.error_rate) * 0.7, 0.1, noise.wrong_rate),
        "latency": paired_traffic.Mirrored(noise.error_rate, 1.0, noise.wrong_rate),  # +300 ms: every answer
        "accuracy": paired_traffic.Mirrored(noise.error_rate, 0.1, noise.wrong_rate + 0.05 / (1 - MODEL_WRONG)),
    }


def paired_detect(rng: random.Random, noise: Noise, name: str, rate: float, seconds: float, alpha: float,
                  nondet: float, labelled: float, decided: list[tuple[str, paired.Discordance]] | None = None) -> float | None:
    kinds = mirrored(noise)
    cumulative, keys = _categories(kinds["good"], kinds[name], nondet, labelled)
    delay = 0.3 if name == "latency" else 0.02  # a pair is complete when its later answer is in
    return paired_traffic.detect(rng, cumulative, keys, rate, seconds, BIN_S, alpha, delay, decided)


@lru_cache(maxsize=16)
def _categories(stable: paired_traffic.Mirrored, cand: paired_traffic.Mirrored, nondet: float,
                labelled: float) -> tuple[list[float], list[tuple[int, int, int, int]]]:
    return paired_traffic.categories(stable, cand, MODEL_WRONG, nondet, labelled)


JUDGES = ("threshold", "sequential", "paired")
ACCURACY_WINDOW_S = 300.0  # a 5-point drop on 10 % of 50 req/s takes about a minute even for the oracle


def run(good_canaries: int, bad_canaries: int, rate: float, weight: float, seconds: float, alpha: float,
        seed: int, detect_seconds: float | None = None, nondet: float = 0.02, labelled: float = 1.0,
        validity_runs: dict[str, int] | None = None, verify_runs: int = 400, promote_runs: int = 200) -> dict[str, object]:
    noise = Noise()
    rng = random.Random(seed)
    kinds = scenarios(noise)
    runs = validity_runs if validity_runs is not None else {"good-canary": good_canaries, "errors-less-600s": good_canaries,
                                                            "good-shadow": good_canaries}
    validity = judge_validity.validity(
        rng, runs, alpha, rate, weight,
        lambda r: paired_detect(r, noise, "good", rate, seconds, alpha, nondet, labelled) is not None)
    false_threshold = sum(threshold_detect(*simulate(rng, kinds["good"], noise, rate, weight, seconds)[:2]) is not None
                          for _ in range(good_canaries))
    detect: dict[str, dict[str, list[float | None]]] = {j: {} for j in (*JUDGES, "oracle")}
    agree: list[bool] = []
    for name in ("error_slice", "latency", "accuracy"):
        window = detect_seconds or seconds
        window = max(window, ACCURACY_WINDOW_S) if name == "accuracy" else window
        for judge in detect:
            detect[judge][name] = []
        for _ in range(bad_canaries):
            stable, cand, _ = simulate(rng, kinds[name], noise, rate, weight, window)
            detect["threshold"][name].append(threshold_detect(stable, cand))
            detect["sequential"][name].append(sequential_detect(stable, cand, alpha, agree))
            decided: list[tuple[str, paired.Discordance]] = []
            detect["paired"][name].append(paired_detect(rng, noise, name, rate, window, alpha, nondet, labelled, decided))
            agree.extend((paired.paired_test(m, c, alpha / len(paired.MEASURES)).lower or 0.0) > 0 for m, c in decided)
            if name == "accuracy":
                detect["oracle"][name].append(oracle_detect(cand, kinds["good"].wrong_rate, kinds[name].wrong_rate,
                                                            alpha / 3))
    false = {"threshold": false_threshold / good_canaries if good_canaries else None,
             "sequential": validity["good-canary"]["false_rollback_rate"],
             "paired": validity["good-shadow"]["false_rollback_rate"]}
    return {
        "background_error_rate": noise.error_rate,
        "good_canaries": good_canaries,
        "judges": {
            judge: {
                "false_rollback_rate": false[judge],
                "detect_s": {k: _median(v) for k, v in detect[judge].items()},
                "detected": {k: round(sum(t is not None for t in v) / len(v), 3) if v else None
                             for k, v in detect[judge].items()},
            }
            for judge in JUDGES
        },
        "oracle": {"detect_s": {"accuracy": _median(detect["oracle"]["accuracy"])}},
        "promote_s": {"good": _median([judge_validity.time_to_pass(rng, 600.0, alpha, rate, weight)
                                       for _ in range(promote_runs)]), "runs": promote_runs, "margin": 0.1},
        "validity": validity,
        "interval_agreement": round(sum(agree) / len(agree), 4) if agree else None,
        "verify_error_rate": verify_sim.pass_rates(random.Random(seed + 1), verify_runs),
        "setup": {"rate": rate, "canary_weight": weight, "window_s": seconds, "detect_window_s": detect_seconds or seconds,
                  "accuracy_window_s": max(detect_seconds or seconds, ACCURACY_WINDOW_S), "alpha": alpha,
                  "guards": {m: n for m, _, n in judge_validity.CHECKS},
                  "bad_canaries_per_fault": bad_canaries, "look_interval_s": BIN_S, "seed": seed,
                  "paired": {"mirrored": 1.0, "nondeterministic_answers": nondet, "labelled": labelled}},
    }


def table(out: dict[str, object]) -> str:
    judges = out["judges"]
    assert isinstance(judges, dict)

    setup = out["setup"]
    assert isinstance(setup, dict)

    def cell(judge: dict[str, dict[str, float | None]], k: str) -> str:
        t, share = judge["detect_s"][k], judge["detected"][k]
        if share is None:
            return "-"
        return f"{t:.1f} s ({share:.0%})" if t is not None else f"not within {setup['detect_window_s']:g} s ({share:.0%})"

    rows = ["| judge | false rollbacks of good canaries | median detect (share caught): error slice 30 % | +300 ms "
            "| accuracy -5 points |",
            "|---|---|---|---|---|"]
    for name, j in judges.items():
        rate = j["false_rollback_rate"]
        rows.append(f"| {name} | {'-' if rate is None else f'{rate:.2%}'} | {cell(j, 'error_slice')} | {cell(j, 'latency')} | "
                    f"{cell(j, 'accuracy')} |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--good", type=int, default=2_000, help="good canaries for the threshold judge (false rollbacks)")
    parser.add_argument("--validity", type=int, default=10_000,
                        help="good candidates per validity setup (good-canary, good-shadow; errors-less-600s a tenth)")
    parser.add_argument("--verify", type=int, default=400, help="simulated rollbacks per verify.error_rate case")
    parser.add_argument("--bad", type=int, default=300, help="bad canaries per fault (detection times)")
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--weight", type=float, default=10.0, help="canary weight in percent")
    parser.add_argument("--window", type=float, default=60.0, help="seconds the judge watches")
    parser.add_argument("--detect-window", type=float, default=None,
                        help="seconds a bad canary is watched (default: --window, as the drills' max_wait)")
    parser.add_argument("--alpha", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=9)
    parser.add_argument("--nondet", type=float, default=0.02, help="paired judge: share of every version's answers that are random")
    parser.add_argument("--labelled", type=float, default=1.0, help="paired judge: share of mirrored requests with a label")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    started = time.monotonic()
    runs = {"good-canary": args.validity, "errors-less-600s": args.validity, "good-shadow": args.validity}
    out = run(args.good, args.bad, args.rate, args.weight / 100, args.window, args.alpha, args.seed, args.detect_window,
              args.nondet, args.labelled, runs, args.verify)
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        print(table(out))
        print(f"\n{args.good} good canaries, {args.bad} bad ones per fault, {args.rate:g} req/s, "
              f"{args.weight:g} % canary (paired: all mirrored, {args.nondet:.0%} random answers), 2 % background errors; "
              f"{time.monotonic() - started:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
