"""Drill benchmark: run canary-fail N times through harness.api and print one JSON object.

    python benchmarks/bench_drill.py [--runs 10] [--drill canary-fail] [--cold] [--keep DIR]

Figures: median and p95 of detect_s, decision_to_completion_s and the whole run's wall time
(result.wall_s); failed requests during rollback (total and per run); the harness's peak RSS;
image build time warm (ensure_images with everything cached) and, with --cold, cold: the
drill-* images (drill-model, drill-router, drill-prometheus, drill-base) are removed first and
harness.api.build_images is timed from scratch. p95 is linear interpolation between order
statistics (with few runs it is close to the maximum).
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

COLD_REPOS = ("drill-model", "drill-router", "drill-prometheus", "drill-base")


def percentile(values: list[float], pct: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * pct / 100
    lo, hi = math.floor(rank), math.ceil(rank)
    return round(ordered[lo] + (ordered[hi] - ordered[lo]) * (rank - lo), 3)


def stats(values: list[float | None]) -> dict[str, Any]:
    present = [v for v in values if v is not None]
    return {
        "median": round(statistics.median(present), 3) if present else None,
        "p95": percentile(present, 95),
        "min": min(present, default=None),
        "max": max(present, default=None),
        "n": len(present),
    }


def remove_drill_images() -> list[str]:
    """`docker rmi` of every image tagged drill-model/router/prometheus/base; returns the tags removed."""
    from harness.stack import docker_api

    client = docker_api.connect()
    removed = []
    for image in client.images.list():
        for tag in image.tags:
            if tag.partition(":")[0] in COLD_REPOS:
                client.images.remove(tag, force=True)
                removed.append(tag)
    return removed


def time_build(quiet: bool) -> float:
    from harness import api

    def progress(message: str) -> None:
        if not quiet:
            print(f"  build: {message}", file=sys.stderr)

    t0 = time.perf_counter()
    api.build_images(progress)
    return round(time.perf_counter() - t0, 3)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--drill", default="canary-fail")
    parser.add_argument("--cold", action="store_true", help="Also time a cold image build (removes drill-* images).")
    parser.add_argument("--keep", type=Path, default=None, help="Keep reports and the store in this directory.")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    from harness import api
    from harness.engine.engine import RunOptions

    out: dict[str, Any] = {"drill": args.drill, "runs": args.runs}
    build: dict[str, Any] = {}
    if args.cold:
        build["removed"] = remove_drill_images()
        build["cold_s"] = time_build(args.quiet)
    build["warm_s"] = time_build(args.quiet)  # everything cached now: the digest checks only
    out["image_build"] = build

    workdir = args.keep or Path(tempfile.mkdtemp(prefix="drill-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    store = f"sqlite:///{workdir.resolve() / 'bench.db'}"
    results = []
    for i in range(args.runs):
        t0 = time.perf_counter()
        result = api.run_drill(args.drill, RunOptions(report_root=workdir / "reports"), store_url=store)
        took = time.perf_counter() - t0
        results.append(result)
        if not args.quiet:
            print(f"run {i + 1}/{args.runs}: {result.status.value} detect {result.detect_s}s "
                  f"d2c {result.decision_to_completion_s}s wall {result.wall_s}s (api call {took:.1f}s)",
                  file=sys.stderr)

    failed = [r.traffic.failed_during_rollback if r.traffic else None for r in results]
    out.update({
        "statuses": {s: sum(r.status.value == s for r in results) for s in sorted({r.status.value for r in results})},
        "detect_s": stats([r.detect_s for r in results]),
        "decision_to_completion_s": stats([r.decision_to_completion_s for r in results]),
        "wall_s": stats([r.wall_s for r in results]),
        "failed_during_rollback": {"total": sum(f or 0 for f in failed), "per_run": failed},
        "within_target": sum(r.within_target is True for r in results),
        # ru_maxrss is KiB on Linux: the harness process only (containers are not counted).
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "reports": str(workdir / "reports"),
    })
    print(json.dumps(out, indent=2))
    return 0 if all(r.passed for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
