"""Side by side on Docker Swarm: Swarm's native automatic rollback against our detection + runbook.

    python benchmarks/bench_swarm.py [--max-wait 60] [--json] [--only ROW] [--nodes 3]

The same two bad versions for every path: one that crashes while loading its model (Swarm's health-based
update monitor can see it) and one that answers ~30 % of requests with 5xx while its health check passes
(Swarm cannot see it). Paths, each a real drill on a real swarm (the stable service has 2 replicas):

  swarm-native   rolling update (docker service update --update-failure-action rollback, start-first,
                 monitor 5s, health check on /healthz); only Swarm decides (strategy.detect_by: orchestrator)
  swarm+ours     the same rolling update; Swarm or our detection decides, whichever is first; the runbook
                 runs docker service rollback (swarm-rollback)
  canary+ours    a canary service (1 replica) at 10 % by router weight; our detection; the canary-rollback
                 or crashloop-rollback runbook (drain, restore alias, remove the canary service)

With ``--nodes N`` (N >= 2) it then starts a local cluster (``drill cluster up --nodes N``), runs the multi-node
rows on it (canary-fail with replicas spread over the nodes; swarm-node-loss, a worker engine stopped during
the rollback) and removes the cluster: detect, decision → completion, failed requests and the time Swarm took
to run every stable replica again after the node went away (``--only nodes/...`` picks among them).

Figures per row, from the client side (the drill's own load generator, 50 requests/s, per-second timeline):
time from the bad deploy to the last bad answer (a failed request or an answer by the bad version), time from
the bad deploy to a verified rollback (traffic restored), failed client requests from deploy to restore
(or to the end of the observation window when nothing restored it), and who decided. Times are wall-clock on
a shared 2-core machine: noisy, and the per-second buckets make "last bad answer" exact to ±1 s.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.engine.engine import Engine, RunOptions
from harness.engine.results import DrillResult
from harness.spec import catalogue
from harness.spec.catalogue import LoadedDrill


@dataclass(frozen=True)
class Row:
    key: str
    bad_version: str  # crash | 5xx
    path: str
    drill: str
    strategy: dict[str, Any]


CRASH = {"kind": "crash", "message": "model weights do not fit in memory"}
ERRORS = {"kind": "error_slice", "feature": "x0", "above": 0.52}
ROWS = (
    Row("crash/swarm-native", "crash on load", "Swarm native auto-rollback", "swarm-auto-rollback", {"detect_by": "orchestrator"}),
    Row("crash/swarm+ours", "crash on load", "rolling update + our detection + runbook", "swarm-auto-rollback", {"detect_by": "both"}),
    Row("crash/canary+ours", "crash on load", "canary 10 % + our detection + runbook", "crashloop", {}),
    Row("5xx/swarm-native", "5xx on 30 %, healthy", "Swarm native auto-rollback", "swarm-update-fail", {"detect_by": "orchestrator"}),
    Row("5xx/swarm+ours", "5xx on 30 %, healthy", "rolling update + our detection + runbook", "swarm-update-fail", {"detect_by": "both"}),
    Row("5xx/canary+ours", "5xx on 30 %, healthy", "canary 10 % + our detection + runbook", "canary-fail", {}),
)


def drill_for(row: Row, max_wait: float) -> LoadedDrill:
    """The catalogue drill with the row's bad version and decision path (and a bounded observation window)."""
    drill = catalogue.load_drill(row.drill)
    spec = drill.spec
    fault = CRASH if row.bad_version.startswith("crash") else ERRORS
    update: dict[str, Any] = {
        "fault": spec.fault.model_validate(fault),
        "detection": spec.detection.model_copy(update={"max_wait": max_wait}),
        "backend": "swarm",
    }
    if row.strategy:
        update["strategy"] = spec.strategy.model_copy(update=row.strategy)
    return LoadedDrill(spec.model_copy(update=update), drill.runbook, drill.drill_path, drill.runbook_path)


def figures(result: DrillResult) -> dict[str, Any]:
    """Client-side figures of one run, from its per-second timeline (t: seconds since the run started)."""
    ts = result.timestamps
    start = ts.started_at.timestamp()
    deployed = ts.deployed_at.timestamp() - start if ts.deployed_at else None
    restored = ts.completed_at.timestamp() - start if ts.completed_at else None
    end = restored if restored is not None else (ts.ended_at.timestamp() - start if ts.ended_at else float("inf"))
    candidate = result.candidate_version
    failed = bad_answers = 0
    last_bad: float | None = None
    for point in result.timeline:
        if deployed is None or point.t + 1 <= deployed or point.t > end:
            continue
        n_failed = sum(point.failed.values())
        n_bad = point.requests.get(candidate, 0)
        failed += n_failed
        bad_answers += n_bad
        if n_failed or n_bad:
            last_bad = point.t + 1
    traffic = result.traffic
    return {
        "status": result.status.value,
        "decided_by": _decider(result),
        "deploy_to_last_bad_answer_s": round(max(0.0, last_bad - deployed), 1) if last_bad is not None and deployed is not None else 0.0,
        "deploy_to_restored_s": result.deploy_to_recovery_s,
        "detect_s": result.detect_s,
        "decision_to_completion_s": result.decision_to_completion_s,
        "failed_requests_deploy_to_restore": failed,
        "bad_version_answers": bad_answers,
        "failed_during_rollback": traffic.failed_during_rollback if traffic else None,
        "requests": traffic.requests if traffic else 0,
        "wall_s": result.wall_s,
        "reason": result.reason,
    }


def _decider(result: DrillResult) -> str:
    if result.decision != "rollback":
        return "nobody" if result.decision == "missed" else str(result.decision)
    metric = result.evidence[0].metric if result.evidence else ""
    if metric.endswith("update-monitor"):
        return "Swarm (update monitor)"
    if metric == "candidate-readiness":
        return "readiness (harness)"
    return f"harness ({metric})"


def table(rows: list[tuple[Row, dict[str, Any]]], max_wait: float) -> str:
    lines = ["| bad version | path | decided by | deploy → last bad answer | deploy → traffic restored (verified) "
             "| failed requests, deploy → restore | answers by the bad version | drill |",
             "|---|---|---|---|---|---|---|---|"]
    for row, f in rows:
        restored = f"{f['deploy_to_restored_s']:.1f} s" if f["deploy_to_restored_s"] is not None else f"never (≥ {max_wait:g} s watched)"
        lines.append(f"| {row.bad_version} | {row.path} | {f['decided_by']} | {f['deploy_to_last_bad_answer_s']:.0f} s "
                     f"| {restored} | {f['failed_requests_deploy_to_restore']} | {f['bad_version_answers']} | {f['status']} |")
    return "\n".join(lines)


NODE_ROWS = (("nodes/canary+ours", "canary-fail"), ("nodes/node-loss", "swarm-node-loss"))


def node_rows(nodes: int, only: list[str]) -> list[tuple[str, dict[str, Any]]]:
    """The multi-node rows, on a cluster made for them (and removed, whatever happens)."""
    import os
    import re

    from harness.backends.swarm import cluster
    from harness.stack.docker_api import connect

    chosen = [(key, drill) for key, drill in NODE_ROWS if not only or key in only]
    if not chosen:
        return []
    host = connect()
    t0 = time.perf_counter()
    made = cluster.up(host, nodes, "bench", lambda m: print(f"  {m}", file=sys.stderr))
    up_s = time.perf_counter() - t0
    before = os.environ.get("DOCKER_HOST")
    os.environ["DOCKER_HOST"] = made.docker_host
    out: list[tuple[str, dict[str, Any]]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="bench-swarm-nodes-") as tmp:
            for key, name in chosen:
                print(f"running {key} ({name}) on {nodes} nodes", file=sys.stderr)
                drill = catalogue.load_drill(name)
                result = Engine().run(drill, RunOptions(report_root=Path(tmp), backend="swarm"))
                f = figures(result)
                waited = next((s.detail for s in result.steps if "running again" in (s.detail or "")), "")
                found = re.search(r"running again ([0-9.]+)s", waited)
                f["reschedule_s"] = float(found.group(1)) if found else None
                f["replicas_by_node"] = result.replicas_by_node
                f["cluster_up_s"] = round(up_s, 1)
                print(f"  {f['status']}: {f['reason']}", file=sys.stderr)
                out.append((key, f))
    finally:
        if before is None:
            os.environ.pop("DOCKER_HOST", None)
        else:
            os.environ["DOCKER_HOST"] = before
        cluster.down(host, "bench")
    return out


def node_table(rows: list[tuple[str, dict[str, Any]]], nodes: int) -> str:
    def s(v: float | None) -> str:
        return "—" if v is None else f"{v:.1f} s"

    lines = [f"| {nodes} nodes | detect | decision → completion | failed requests, deploy → restore "
             "| failed during rollback | reschedule after node loss | drill |", "|---|---|---|---|---|---|---|"]
    for key, f in rows:
        lines.append(f"| {key} | {s(f['detect_s'])} | {s(f['decision_to_completion_s'])} | {f['failed_requests_deploy_to_restore']} "
                     f"| {f['failed_during_rollback']} | {s(f['reschedule_s'])} | {f['status']} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--max-wait", type=float, default=60.0, help="Observation window when nobody decides (s)")
    parser.add_argument("--json", action="store_true", help="Print the figures as JSON too")
    parser.add_argument("--only", action="append", default=[], help="Run only these rows (e.g. 5xx/swarm-native)")
    parser.add_argument("--nodes", type=int, default=1, help="Also the multi-node rows, on a local cluster of N engines")
    args = parser.parse_args(argv)
    chosen = [r for r in ROWS if not args.only or r.key in args.only]
    results: list[tuple[Row, dict[str, Any]]] = []
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-swarm-") as tmp:
        for row in chosen:
            print(f"running {row.key} ({row.drill})", file=sys.stderr)
            result = Engine().run(drill_for(row, args.max_wait), RunOptions(report_root=Path(tmp), backend="swarm"))
            f = figures(result)
            print(f"  {f['status']}: {f['reason']}", file=sys.stderr)
            results.append((row, f))
    multi = node_rows(args.nodes, [k for k in args.only if k.startswith("nodes/")]) if args.nodes > 1 else []
    if results:
        print(table(results, args.max_wait))
    if multi:
        print(("\n" if results else "") + node_table(multi, args.nodes))
    print(f"\n{len(results) + len(multi)} drills on Docker Swarm in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    if args.json:
        print(json.dumps({**{row.key: f for row, f in results}, **dict(multi)}, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
