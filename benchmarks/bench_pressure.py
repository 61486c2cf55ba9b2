"""Rollback under pressure, side by side: canary-fail clean, then each adversity and the late rollback, in one run.

    python benchmarks/bench_pressure.py [--json] [--only registry-slow,partition] [--keep DIR]

Per case: status, what the drill expected and whether it matched, decision -> completion, failed and slow
requests during the rollback, and decision -> completion as a ratio to the clean run's. A case whose drill
is not in the catalogue (``late-rollback`` comes with the production-rate load work) is reported as missing.
``slow_during_rollback`` is read from the run's traffic summary where the load generator counts slow answers
(``traffic.slow_during_rollback``); null where it does not. Figures on a shared machine are approximate:
compare the ratios within one run, not absolute seconds across runs.

JSON shape: {"clean": {...}, "cases": {"<name>": {"status", "expected", "as_expected",
"decision_to_completion_s", "failed_during_rollback", "slow_during_rollback", "ratio_to_clean", "achieved_rps"}}}
(``achieved_rps``: requests/s achieved per phase, report.json's ``traffic.achieved_rps``).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

CLEAN = "canary-fail"
CASES = ("registry-slow", "registry-down", "router-api-slow", "late-rollback", "capacity-naive", "capacity-ordered",
         "replica-loss", "partition")


def figures(result: Any, clean_d2c: float | None) -> dict[str, Any]:
    from harness.report.outcome import expectation, outcome

    d2c = result.decision_to_completion_s
    traffic = result.traffic
    return {
        "status": result.status.value,
        "expected": str(expectation(result)),
        "as_expected": outcome(result).as_expected,
        "decision_to_completion_s": d2c,
        "failed_during_rollback": traffic.failed_during_rollback if traffic is not None else None,
        "slow_during_rollback": getattr(traffic, "slow_during_rollback", None) if traffic is not None else None,
        "ratio_to_clean": round(d2c / clean_d2c, 2) if d2c is not None and clean_d2c else None,
        # requests/s the load generator achieved per phase; the table shows the rollback's (and detect's)
        "achieved_rps": dict(traffic.achieved_rps) if traffic is not None else None,
        "reason": result.reason,
        "run_id": result.run_id,
    }


def missing(name: str) -> dict[str, Any]:
    return {"status": "missing", "expected": None, "as_expected": False, "decision_to_completion_s": None,
            "failed_during_rollback": None, "slow_during_rollback": None, "ratio_to_clean": None, "achieved_rps": None,
            "reason": f"no drill named {name} in the catalogue"}


def table(out: dict[str, Any]) -> str:
    def cell(value: Any) -> str:
        if value is None:
            return "—"
        if isinstance(value, bool):
            return "yes" if value else "NO"
        if isinstance(value, float):
            return f"{value:.2f}"
        return str(value)

    def rate(case: dict[str, Any]) -> str:
        achieved = case.get("achieved_rps") or {}
        return "/".join(f"{achieved[p]:.0f}" if p in achieved else "—" for p in ("detect", "rollback"))

    keys = ("status", "expected", "as_expected", "decision_to_completion_s", "failed_during_rollback",
            "slow_during_rollback", "ratio_to_clean")
    head = ("case", "status", "expected", "as expected", "decision→completion s", "failed", "slow", "× clean",
            "req/s detect/rollback")
    rows = [(CLEAN + " (clean)", *(cell(out["clean"].get(k)) for k in keys), rate(out["clean"]))]
    for name, case in out["cases"].items():
        rows.append((name, *(cell(case.get(k)) for k in keys), rate(case)))
    widths = [max(len(r[i]) for r in (head, *rows)) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in (head, *rows)]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="Print one JSON object instead of the table.")
    parser.add_argument("--only", default="", help="Comma-separated cases to run (default: all).")
    parser.add_argument("--keep", type=Path, default=None, help="Keep reports in this directory.")
    args = parser.parse_args(argv)

    from harness import api
    from harness.engine.engine import RunOptions
    from harness.spec import catalogue

    chosen = [c for c in CASES if not args.only or c in args.only.split(",")]
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="bench-pressure-"))
    known = set(catalogue.drill_names())

    def run(name: str) -> Any:
        if not args.json:
            print(f"running {name} ...", file=sys.stderr, flush=True)
        return api.run_drill(name, RunOptions(report_root=workdir / "reports"), record=False)

    clean = run(CLEAN)
    out: dict[str, Any] = {"clean": figures(clean, clean.decision_to_completion_s), "cases": {}}
    for name in chosen:
        out["cases"][name] = figures(run(name), clean.decision_to_completion_s) if name in known else missing(name)
    if args.json:
        print(json.dumps(out, indent=1))
    else:
        print(table(out))
        print(f"\nreports: {workdir / 'reports'}")
    return 0 if all(c["as_expected"] for c in out["cases"].values() if c["status"] != "missing") else 1


if __name__ == "__main__":
    raise SystemExit(main())
