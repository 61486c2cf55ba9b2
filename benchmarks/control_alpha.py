"""False rollbacks of the catalogue's control drills at two alphas, with the judge the drills call
(``judge_validity.Looks``: its e-processes, its alpha split and its ``min_samples`` guards).

The control's traffic: 100 requests/s, half to a good candidate, a look every 0.5 s for 60 s; both versions
fail 2 % of their requests, answer 10 % slower than the pre-deploy p90 and get 4.8 % wrong (the built-in
model's 3.8 % on the load's requests plus the 1 % of answers the noise flips). Prints, per alpha, how many good
candidates were rolled back and how many of those in the first 5 s::

    python benchmarks/control_alpha.py [--runs 10000] [--seed 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from judge_validity import BIN_S, Looks, canary_bin

RATE, WEIGHT, SECONDS = 100.0, 0.5, 60.0
RATES = (0.02, 0.10, 0.048)  # (errors, slow answers, wrong answers), every version alike
CHECKS = (("error", "large", 20), ("latency", "large", 20), ("incorrect", "small", 20))  # the controls' guards
EARLY_S = 5.0


def rolled_back_at(rng: random.Random, alpha: float,
                   candidate: tuple[float, float, float] = RATES) -> float | None:
    """Seconds to the look that rolled the candidate (good by default) back, or None (not in the window)."""
    looks = Looks(alpha, CHECKS)
    for i in range(int(SECONDS / BIN_S)):
        looks.add(canary_bin(rng, int(RATE * BIN_S), WEIGHT, RATES, candidate))
        if looks.failed() is not None:
            return (i + 1) * BIN_S
    return None


def measure(runs: int, seed: int, alphas: tuple[float, ...] = (0.01, 0.002)) -> dict[str, dict[str, float]]:
    out = {}
    for alpha in alphas:
        rng = random.Random(seed)
        times = [t for t in (rolled_back_at(rng, alpha) for _ in range(runs)) if t is not None]
        out[f"{alpha:g}"] = {"runs": runs, "false_rollbacks": len(times), "rate": len(times) / runs,
                             "within_first_5s": sum(t <= EARLY_S for t in times)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000, help="good candidates per alpha")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = measure(args.runs, args.seed)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    for alpha, r in result.items():
        print(f"alpha {alpha}: {r['false_rollbacks']} false rollbacks in {r['runs']} good canaries "
              f"({r['rate']:.2%}), {r['within_first_5s']} of them in the first {EARLY_S:g} s")


if __name__ == "__main__":
    main()
