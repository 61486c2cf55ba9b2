"""Store benchmark: bulk-import 1,000,000 events into a fresh SQLite file, then time `drill metrics`.

    python benchmarks/store_bench.py [--events 1000000] [--models 20] [--seed 7] [--keep PATH]

Prints one JSON object: generation, import seconds and events/s, and the metrics query
(median of 3) for all time, one quarter, and the by-quarter trend, and the post-mortem signals (RCA
coverage over six months, repeated cause keys) for one quarter. Goal: metrics <= 2 s.
The mix: deployments per model every few hours over ~2 years; ~10 % of deployments
rolled back (a few of those outside the 7-day window), ~1 % planned rollbacks.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from harness.store import (
    PRODUCTION,
    Deployment,
    Event,
    GroupBy,
    MetricsQuery,
    Rollback,
    RootCause,
    Store,
    Trigger,
)

START = datetime(2025, 1, 1, tzinfo=UTC)
CAUSES = list(RootCause)


def generate(total: int, models: int, seed: int) -> list[Event]:
    """Exactly `total` events: deployments with ~10 % unplanned and ~1 % planned rollbacks.

    Models deploy in turn, each every ~`step` seconds with jitter, over about two years.
    """
    rng = random.Random(seed)
    step_s = models * 2 * 365 * 86_400 / (total / 1.11)
    clocks = [START + timedelta(seconds=rng.uniform(0, step_s)) for _ in range(models)]
    versions = [0] * models
    events: list[Event] = []
    turn = 0
    while len(events) < total:
        m, turn = turn % models, turn + 1
        model, t = f"model-{m:02d}", clocks[m]
        versions[m] += 1
        version = versions[m]
        events.append(Deployment(model, str(version), t))
        roll = rng.random()
        if roll < 0.11 and len(events) < total:
            # Most are caught within hours; 1 in 20 is decided after the 7-day window.
            late = rng.random() < 0.05
            decided = t + timedelta(hours=rng.uniform(170, 400) if late else rng.expovariate(1 / 6))
            events.append(Rollback(
                model, str(version), str(version - 1), decided,
                decided + timedelta(minutes=rng.lognormvariate(2.0, 0.6)),
                Trigger.AUTOMATED if rng.random() < 0.7 else Trigger.MANUAL,
                rng.choice(CAUSES), roll >= 0.10,
                f"https://rca.example/{model}/{version}" if rng.random() < 0.6 else None, PRODUCTION,
                # half the post-mortems name a finding, from a pool of 300: repeats are common, as in life
                (f"finding-{rng.randrange(300)}:detail",) if rng.random() < 0.5 else (),
            ))
        clocks[m] = t + timedelta(seconds=step_s * rng.uniform(0.5, 1.5))
    return events


def median_seconds(action: Callable[[], object], repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return round(statistics.median(times), 3)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--models", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", type=Path, help="write the SQLite file here and keep it")
    args = parser.parse_args()

    tmp = tempfile.TemporaryDirectory(prefix="drill-bench-")
    path = args.keep or Path(tmp.name) / "bench.db"
    if path.exists():
        print(f"{path} exists; the benchmark needs a fresh file", file=sys.stderr)
        return 2

    started = time.perf_counter()
    events = generate(args.events, args.models, args.seed)
    generate_s = time.perf_counter() - started

    with Store.open(str(path)) as store:
        started = time.perf_counter()
        result = store.import_events(events)
        import_s = time.perf_counter() - started

        everything = MetricsQuery()
        quarter = MetricsQuery(since=datetime(2025, 10, 1, tzinfo=UTC),
                               until=datetime(2026, 1, 1, tzinfo=UTC))
        figures = store.metrics(everything)
        all_time_s = median_seconds(lambda: store.metrics(everything))
        report: dict[str, object] = {
            "events": len(events),
            "deployments": result.deployments_inserted,
            "rollbacks": result.rollbacks_inserted,
            "generate_s": round(generate_s, 2),
            "import_s": round(import_s, 2),
            "import_events_per_s": round(len(events) / import_s),
            "metrics_all_time_s": all_time_s,
            "metrics_one_quarter_s": median_seconds(lambda: store.metrics(quarter)),
            "metrics_by_quarter_s": median_seconds(
                lambda: store.metrics_by(everything, GroupBy.QUARTER)),
            "metrics_by_model_s": median_seconds(
                lambda: store.metrics_by(everything, GroupBy.MODEL)),
            "postmortem_signals_one_quarter_s": median_seconds(lambda: store.postmortem_signals(quarter)),
            "repeated_cause_keys_one_quarter": len(store.postmortem_signals(quarter).repeated),
            "db_mb": round(path.stat().st_size / 1e6, 1),
            "rollback_rate_pct": round(figures.rollback_rate_pct or 0, 2),
            "band": figures.band,
            "goal_met": all_time_s <= 2.0,
        }
    print(json.dumps(report, indent=2))
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
