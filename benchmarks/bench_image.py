"""The image target's figures: example image builds (cold, a new version, warm) and the example drills' times.

    python benchmarks/bench_image.py [--runs 1] [--cold] [--skip-drills]

Prints JSON. ``--cold`` also builds the v2 image with no cache at all (dependencies installed from the
wheels, model trained) under a throwaway tag, and removes what that build left (its tag and the dangling
stage images it made). "new version" is a build whose dependency layers are cached but whose model is not
(a fresh seed): what a team pays for each new version. "warm" is a drill's prepare finding the image.
Figures on a shared machine are noisy: run them more than once.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import docker

from harness import api
from harness.engine.engine import RunOptions
from harness.stack.docker_api import LABEL_HARNESS
from harness.targets.image.build import BASE_ARG, FallbackBase, ImageBuilder
from harness.targets.image.spec import BuildSpec, VersionSpec

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "tumor-classifier"
DRILLS = ("tumor-canary-5xx", "tumor-biased-retrain", "tumor-good-canary", "tumor-broken-rollback")


def quiet(_message: str) -> None:
    return None


def builds(client: docker.DockerClient, cold: bool) -> dict[str, object]:
    builder = ImageBuilder(client, "tumor-classifier", EXAMPLE / "drills" / "bench.yaml", quiet)
    out: dict[str, object] = {}
    if cold:
        base = FallbackBase(client, quiet)
        args = {"MODEL_VERSION": "v2", "MODEL_SEED": "2"}
        if not base.available("python:3.11-slim"):
            args[BASE_ARG] = base.stand_in("python:3.11-slim")
        dangling = {i.id for i in client.images.list(filters={"dangling": True})}
        started = time.monotonic()
        client.images.build(path=str(EXAMPLE), buildargs=args, tag="drill-team-bench:cold", nocache=True, rm=True,
                            forcerm=True, pull=False, labels={LABEL_HARNESS: "true"})
        out["cold_build_s"] = round(time.monotonic() - started, 1)
        client.images.remove("drill-team-bench:cold", noprune=False)
        for image in client.images.list(filters={"dangling": True}):
            if image.id not in dangling:  # only what this build made
                try:
                    client.images.remove(image.id)
                except docker.errors.APIError:
                    pass
    seed = str(random.randrange(10_000, 99_999))
    fresh = VersionSpec(build=BuildSpec(context=EXAMPLE, args={"MODEL_VERSION": f"bench-{seed}", "MODEL_SEED": seed}))
    made = builder.resolve("bench", fresh)
    out["new_version_build_s"] = round(made.seconds, 1)
    client.images.remove(made.tag)
    v2 = VersionSpec(build=BuildSpec(context=EXAMPLE, args={"MODEL_VERSION": "v2", "MODEL_SEED": "2"}))
    builder.resolve("v2", v2)  # cached by now, or built once here
    warm = [builder.resolve("v2", v2).seconds for _ in range(3)]
    out["warm_resolve_s_median"] = round(statistics.median(warm), 3)
    return out


def drills(runs: int, names: tuple[str, ...]) -> dict[str, object]:
    out: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            rows = []
            for _ in range(runs):
                r = api.run_drill(str(EXAMPLE / "drills" / f"{name}.yaml"), RunOptions(report_root=Path(tmp) / "reports"),
                                  store_url=f"sqlite:///{tmp}/b.db")
                prepare = next((p.duration_s for p in r.phases if p.name == "prepare"), None)
                row: dict[str, object] = {"status": r.status.value, "decision": r.decision, "detect_s": r.detect_s,
                                          "decision_to_completion_s": r.decision_to_completion_s, "wall_s": r.wall_s,
                                          "prepare_s": prepare}
                if r.decision == "missed":  # what the judge saw last, to tell a slow detection from a blind one
                    row["reason"] = r.reason
                rows.append(row)
            out[name] = rows
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--cold", action="store_true")
    parser.add_argument("--skip-drills", action="store_true")
    parser.add_argument("--skip-builds", action="store_true")
    parser.add_argument("--drill", action="append", choices=DRILLS, help="only these drills (repeatable)")
    args = parser.parse_args()
    if not any((EXAMPLE / "wheels").glob("pip-*.whl")):
        sys.exit(f"no wheels in {EXAMPLE / 'wheels'}: run {EXAMPLE / 'fetch-wheels.sh'} first")
    client = docker.from_env(timeout=600)
    report: dict[str, object] = {} if args.skip_builds else {"builds": builds(client, args.cold)}
    if not args.skip_drills:
        report["drills"] = drills(args.runs, tuple(args.drill or DRILLS))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
