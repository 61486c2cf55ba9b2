"""Late-rollback benchmark: decision -> completion against the size of the weights brought back.

    python benchmarks/bench_late.py [--sizes 200MB,2GB] [--runs 1] [--rate 500] [--target builtin|mlflow] [--json]

For each artifact size, runs the late-rollback drill (``--target mlflow``: ``mlflow-late-rollback``, the versions in
a real MLflow server; a copy with ``target.artifact_size`` set) and prints
per size: status, decision -> completion, the start-previous step (start the stopped version, read and
verify its weights, pass the router's health check), the achieved request rate per phase, and the
failed and slow requests during the rollback. Figures on a shared 2-core machine are approximate.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

DRILLS = {"builtin": "late-rollback", "mlflow": "mlflow-late-rollback"}


def variant(dest: Path, size: str, rate: float | None, target: str = "builtin") -> Path:
    """A copy of the catalogue's late-rollback drill for ``target`` with another artifact size (and rate)."""
    from harness.spec import catalogue

    data = yaml.safe_load(catalogue.load_drill(DRILLS[target]).drill_path.read_text())
    data["target"]["artifact_size"] = size
    if rate is not None:
        data["traffic"]["rate"] = rate
    path = dest / f"{DRILLS[target]}-{size}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def figures(result: Any) -> dict[str, Any]:
    step = next((s for s in result.steps if s.name == "start-previous"), None)
    t = result.traffic
    return {"status": result.status.value, "reason": result.reason,
            "decision_to_completion_s": result.decision_to_completion_s,
            "start_previous_s": step.duration_s if step else None,
            "achieved_rps": t.achieved_rps if t else None,
            "failed_during_rollback": t.failed_during_rollback if t else None,
            "slow_during_rollback": t.slow_during_rollback if t else None}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="200MB,2GB", help="comma-separated artifact sizes")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--rate", type=float, default=None, help="requests/s (default: the drill's)")
    parser.add_argument("--target", choices=sorted(DRILLS), default="builtin",
                        help="the target kind whose late-rollback drill runs (mlflow: mlflow-late-rollback)")
    parser.add_argument("--json", action="store_true", help="print JSON only")
    args = parser.parse_args(argv)

    from harness import api
    from harness.engine.engine import RunOptions

    workdir = Path(tempfile.mkdtemp(prefix="drill-bench-late-"))
    store = f"sqlite:///{workdir / 'bench.db'}"
    out: dict[str, Any] = {}
    ok = True
    for size in [s.strip() for s in args.sizes.split(",") if s.strip()]:
        path = variant(workdir, size, args.rate, args.target)
        runs = []
        for _ in range(args.runs):
            result = api.run_drill(str(path), RunOptions(report_root=workdir / "reports"), store_url=store)
            ok &= result.passed
            runs.append(figures(result))
        d2c = [r["decision_to_completion_s"] for r in runs if r["decision_to_completion_s"] is not None]
        out[size] = {"decision_to_completion_median_s": round(statistics.median(d2c), 3) if d2c else None,
                     "runs": runs}
        if not args.json:
            for r in runs:
                print(f"{size:>7}: {r['status']:6} decision->completion {r['decision_to_completion_s']}s "
                      f"(start-previous {r['start_previous_s']}s), failed {r['failed_during_rollback']}, "
                      f"slow {r['slow_during_rollback']}, achieved rps {r['achieved_rps']}", file=sys.stderr)
    print(json.dumps(out, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
