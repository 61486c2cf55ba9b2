"""Detection quality over repeated runs: false rollbacks of the control, missed rollbacks of the bad canary.

    python benchmarks/bench_catalogue.py --runs 10
    python benchmarks/bench_catalogue.py --runs 10 --drills shadow-nondeterministic-control shadow-accuracy

Prints JSON: per drill, runs, false rollbacks (a drill that expects a promotion rolled back), missed
rollbacks (one that expects a rollback not rolled back), median and worst detect time (deployed -> decision;
in shadow, from the first copy to the decision); for staged strategies (shadow, progressive) which stage caught
the candidate and the most client answers it served before the decision.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path

from harness import api
from harness.engine.engine import RunOptions
from harness.spec import catalogue


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--drills", nargs="+", default=["good-canary", "canary-fail"])
    args = parser.parse_args()
    out: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.drills:
            control = catalogue.load_drill(name).spec.expect == "promote"
            detect: list[float] = []
            false_rollbacks = missed = 0
            statuses: list[str] = []
            caught_in: list[str] = []  # staged strategies: the stage that caught the candidate, per run
            served: list[int] = []  # client answers the candidate gave before the decision (shadow: 0)
            for _ in range(args.runs):
                r = api.run_drill(name, RunOptions(report_root=Path(tmp) / "reports"), store_url=f"sqlite:///{tmp}/b.db")
                statuses.append(r.status.value)
                if r.detect_s is not None:
                    detect.append(r.detect_s)
                if r.caught_in is not None:
                    caught_in.append(r.caught_in.label)
                if r.stages:
                    served.append(sum(st.candidate_answers_served for st in r.stages if st.decision != "not reached"))
                if control and r.decision == "rollback":
                    false_rollbacks += 1
                if not control and not r.rolled_back:
                    missed += 1
            out[name] = {
                "runs": args.runs,
                "statuses": {s: statuses.count(s) for s in sorted(set(statuses))},
                "false_rollbacks": false_rollbacks if control else None,
                "missed_rollbacks": missed if not control else None,
                "detect_s_median": round(statistics.median(detect), 3) if detect else None,
                "detect_s_worst": round(max(detect), 3) if detect else None,
                "detect_s_all": [round(d, 2) for d in detect],
                "caught_in": {c: caught_in.count(c) for c in sorted(set(caught_in))} or None,
                "candidate_answers_served_max": max(served) if served else None,
            }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
