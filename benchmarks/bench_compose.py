"""Timing fidelity of a compose drill, and its wall time.

    python benchmarks/bench_compose.py [--runs 1]

Runs ``examples/team-stack``'s canary drill (copied to a scratch project) with one change to its runbook: the
rollback step runs the team's ``ops/rollback.sh`` under ``own_time`` (below), a small wrapper that times the
script by itself (``time.perf_counter`` around the script's process) and writes that to a file. Drill's own
duration of the step is compared with it in the same run: they must agree within 0.2 s (drill's figure also
holds the wrapper's Python start, ~50 ms). JSON on stdout: per run the step's duration by drill, the script's
own, their difference, the drill's wall time and status, and the load average (timings on a loaded machine
are noisy: the difference is a ratio inside one run, not a figure across machines).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
TEAM = ROOT / "examples" / "team-stack"
LIMIT_S = 0.2
OWN_TIME = '''\
import subprocess, sys, time
out, argv = sys.argv[1], sys.argv[2:]
t0 = time.perf_counter()
status = subprocess.run(argv).returncode
open(out, "w").write(repr(time.perf_counter() - t0))
sys.exit(status)
'''


def project(scratch: Path) -> Path:
    """The team's project, with the wrapper and a runbook whose rollback step runs the script under it."""
    root = scratch / "team-stack"
    shutil.copytree(TEAM, root)  # the wheels too: a build context does not follow a symlink
    (root / "ops" / "own_time.py").write_text(OWN_TIME)
    runbook = yaml.safe_load((root / "runbooks" / "team-rollback.yaml").read_text())
    runbook["steps"][0]["params"]["command"] = [sys.executable, "./ops/own_time.py", str(scratch / "own.txt"),
                                                "./ops/rollback.sh", "${stable_version}"]
    (root / "runbooks" / "team-rollback.yaml").write_text(yaml.safe_dump(runbook, sort_keys=False))
    return root / "drills" / "team-canary-rollback.yaml"


def once(scratch: Path, drill: Path) -> dict[str, object]:
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "harness.cli", "run", str(drill), "--json", "--report-dir",
                           str(scratch / "reports")], capture_output=True, text=True, cwd=scratch, timeout=1800,
                          env={**os.environ, "DRILL_STORE": f"sqlite:///{scratch}/drill.db"})
    wall = time.monotonic() - started
    result = json.loads(proc.stdout)
    step = next((s for s in result["steps"] if s["name"] == "rollback"), None)
    if step is None:
        return {"status": result["status"], "reason": result["reason"], "drill_wall_s": round(wall, 1)}
    own = float((scratch / "own.txt").read_text())
    by_drill = float(step["duration_s"])
    return {"status": result["status"], "step_by_drill_s": round(by_drill, 3), "script_own_s": round(own, 3),
            "difference_s": round(by_drill - own, 3), "within_limit": abs(by_drill - own) <= LIMIT_S,
            "drill_wall_s": round(wall, 1), "failed_during_rollback": result["traffic"]["failed_during_rollback"],
            "load_average": [round(x, 2) for x in os.getloadavg()]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="drill-bench-compose-") as tmp:
        scratch = Path(tmp)
        drill = project(scratch)
        runs = [once(scratch, drill) for _ in range(args.runs)]
    print(json.dumps({"limit_s": LIMIT_S, "runs": runs}, indent=2))
    sys.exit(0 if all(r.get("within_limit") for r in runs) else 1)


if __name__ == "__main__":
    main()
