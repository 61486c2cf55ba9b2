"""The cold first run's image work, measured without touching the shared images: bootstrap the Debian base
(mmdebstrap and/or debootstrap), import it and build the role image, all under scratch tags that are removed
afterwards; then one warm ``drill run canary-fail`` (images cached) for the rest of the run.

    python benchmarks/bench_cold_start.py --tool mmdebstrap --tool debootstrap

Prints JSON: per tool, seconds of bootstrap, import and role build, and the lines it printed to a
non-terminal; the warm run's wall time and its line count; cold estimate = images + warm run. Figures on a
loaded machine are approximate: compare tools within one invocation.
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
        built = time.monotonic()
        progress(f"building {role}")
        images._build(client, base, role, images.inputs_digest())
        marks["build"] = time.monotonic() - built
    finally:
        for tag in (role, base):
            try:
                client.images.remove(tag, noprune=False)
            except Exception:  # noqa: BLE001 - a scratch tag that never got made
                pass
    return {"seconds": {k: round(v, 1) for k, v in marks.items()},
            "images_s": round(time.monotonic() - started, 1), "lines": len(out.getvalue().splitlines()),
            "output": out.getvalue().splitlines()}


def warm_run() -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "DRILL_STORE": f"sqlite:///{tmp}/drill.db"}
        started = time.monotonic()
        proc = subprocess.run([sys.executable, "-m", "harness.cli", "run", "canary-fail", "--report-dir",
                               str(Path(tmp) / "reports")], capture_output=True, text=True, env=env, check=False)
        return {"wall_s": round(time.monotonic() - started, 1), "exit": proc.returncode,
                "lines": len(proc.stdout.splitlines()) + len(proc.stderr.splitlines())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tool", action="append", choices=bootstrap.TOOLS)
    args = parser.parse_args()
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
