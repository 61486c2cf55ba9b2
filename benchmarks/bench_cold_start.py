"""The cold first run, measured two ways.

    python benchmarks/bench_cold_start.py --first-run
    python benchmarks/bench_cold_start.py --tool mmdebstrap --tool debootstrap

``--first-run`` is the real thing: it removes this version's stack images (the base and the role tags of the
current input digest, nothing else) and runs ``drill run canary-fail`` as a new user's first command, with its
output going to a pipe (a CI log, not a terminal); JSON: wall seconds, exit code, the lines it printed and the
lines themselves. Without it, the image work alone under scratch tags that are removed afterwards (the shared
images stay): bootstrap the Debian base with each tool and import it (the serving files go into its archive, so
the role image is a tag, no build), then one warm ``drill run canary-fail``; cold estimate = images + warm run.
Figures on a loaded machine are approximate: compare tools within one invocation.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness.engine.events import Progress
from harness.listeners.console import PlainConsole
from harness.stack import bootstrap, docker_api, images

SCRATCH = "drill-bench-scratch"


def cold_images(tool: str) -> dict[str, object]:
    client = docker_api.connect()
    out = io.StringIO()
    console = PlainConsole(out)
    marks: dict[str, float] = {}
    started = time.monotonic()

    def progress(message: str) -> None:
        if "writing the image archive" in message or "configuring packages" in message:
            marks["bootstrap_until_last_phase"] = time.monotonic() - started
        console.on_event(Progress(message))

    os.environ[bootstrap.TOOL_ENV] = tool
    os.environ.setdefault("XDG_STATE_HOME", tempfile.mkdtemp(prefix="drill-bench-state-"))  # not the user's log
    base = f"{SCRATCH}-base:{tool}-{os.getpid()}"
    role = f"{SCRATCH}-model:{tool}-{os.getpid()}"
    try:
        images.ensure_base(client, progress, force=True, tag=base)
        marks["bootstrap_and_import"] = time.monotonic() - started
        tagged = time.monotonic()
        client.images.get(base).tag(*role.split(":"))  # what ensure_images does with a base that holds the files
        marks["role_image"] = time.monotonic() - tagged
    finally:
        for tag in (role, base):
            try:
                client.images.remove(tag, noprune=False)
            except Exception:  # noqa: BLE001 - a scratch tag that never got made
                pass
    return {"seconds": {k: round(v, 1) for k, v in marks.items()},
            "images_s": round(time.monotonic() - started, 1), "lines": len(out.getvalue().splitlines()),
            "output": out.getvalue().splitlines()}


def warm_run(keep_output: bool = False) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "DRILL_STORE": f"sqlite:///{tmp}/drill.db"}
        started = time.monotonic()
        proc = subprocess.run([sys.executable, "-m", "harness.cli", "run", "canary-fail", "--report-dir",
                               str(Path(tmp) / "reports")], capture_output=True, text=True, env=env, check=False)
        lines = proc.stdout.splitlines() + proc.stderr.splitlines()
        out: dict[str, object] = {"wall_s": round(time.monotonic() - started, 1), "exit": proc.returncode,
                                  "lines": len(lines)}
        if keep_output:
            out["output"] = lines
        return out


def first_run() -> dict[str, object]:
    """This version's stack images removed, then a new user's first ``drill run canary-fail``."""
    client = docker_api.connect()
    digest = images.inputs_digest()
    for tag in (*(f"drill-{role}:{digest}" for role in images.ROLES), images.base_tag()):
        if images.have_image(client, tag):
            client.images.remove(tag)
    return {"load_average_before": round(os.getloadavg()[0], 2), **warm_run(keep_output=True)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tool", action="append", choices=bootstrap.TOOLS)
    parser.add_argument("--first-run", action="store_true", help="remove this version's images, then time drill run")
    args = parser.parse_args()
    if args.first_run:
        print(json.dumps({"first canary-fail": first_run()}, indent=1))
        return
    result: dict[str, object] = {tool: cold_images(tool) for tool in args.tool or ["mmdebstrap"]}
    warm = warm_run()
    result["warm canary-fail"] = warm
    for tool in args.tool or ["mmdebstrap"]:
        cold = result[tool]
        assert isinstance(cold, dict)
        cold["cold_estimate_s"] = round(float(cold["images_s"]) + float(str(warm["wall_s"])), 1)
        # the warm run's one "images up to date" line is replaced by the bootstrap's lines
        cold["cold_lines_estimate"] = int(str(cold["lines"])) + int(str(warm["lines"])) - 1
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
