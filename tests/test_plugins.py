"""A third party extends drill without a fork: a throwaway plugin distribution (its own package and
``entry_points.txt``, found by ``importlib.metadata`` on the path) registers a target kind and a backend.
A drill naming them validates, and the engine runs it over the plugin's (fake) target. Nothing of the
project's own files changes; without the plugin on the path the same drill is refused, exit 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

PLUGIN = '''
"""drill-toy: a target kind and a backend from outside the project."""
from typing import Literal

from harness.backends import BackendKind
from harness.spec.types import TargetBlock
from harness.targets import TargetKind


class ToySpec(TargetBlock):
    kind: Literal["toy"] = "toy"
    greeting: str = "hello"


def create(drill, run_id, workdir, backend):
    from tests.fakes import FakeTarget

    target = FakeTarget()
    target.name = "toy"
    target.backend.kind = backend  # the plugin's backend runs the fake's in-process slots
    return target


KIND = TargetKind(kind="toy", spec=ToySpec, factory=create, description="a toy target",
                  backends=frozenset({"toy-engine"}), faults=frozenset({"none", "error_slice"}))
BACKEND = BackendKind("toy-engine", "an in-process engine of the toy target")
'''

ENTRY_POINTS = """[harness.targets.v1]
toy = drill_toy:KIND

[harness.backends.v1]
toy-engine = drill_toy:BACKEND
"""

DRILL = """name: toy-drill
root_cause: performance
model: fraud
target: {kind: toy, greeting: hi}
backend: toy-engine
runbook: rb
fault: {kind: error_slice, feature: x0, above: 0.5}
strategy: {kind: canary, weight: 50}
traffic: {rate: 100}
detection:
  interval: 100ms
  max_wait: 8s
  compare: [{name: errors, measure: error, min_samples: 20}]
profiles: {ci: {baseline: 500ms}}
"""

RUNBOOK = """name: rb
steps:
  - {name: drain, action: router.drain, params: {server: candidate, settle: 100ms}}
  - {name: restore, action: registry.restore_previous}
  - {name: stop, action: service.stop, params: {service: candidate}}
  - {name: verify, action: verify.http, params: {requests: 10, expect_version: "${stable_version}"}, verify: true}
"""

RUN = """
import json, sys
from pathlib import Path
from harness.spec import catalogue
from harness.engine.engine import Engine, RunOptions
drill = catalogue.load_drill(sys.argv[1])
result = Engine().run(drill, RunOptions(report_root=Path(sys.argv[2])))
print(json.dumps({"status": result.status.value, "reason": result.reason, "target": result.target,
                  "backend": result.backend, "greeting": drill.spec.target.greeting}))
"""


def _project(tmp_path: Path, with_plugin: bool) -> tuple[Path, dict[str, str]]:
    site = tmp_path / "site"
    if with_plugin:
        (site / "drill_toy").mkdir(parents=True)
        (site / "drill_toy" / "__init__.py").write_text(PLUGIN)
        meta = site / "drill_toy-0.1.dist-info"
        meta.mkdir()
        (meta / "METADATA").write_text("Metadata-Version: 2.1\nName: drill-toy\nVersion: 0.1\n")
        (meta / "entry_points.txt").write_text(ENTRY_POINTS)
    project = tmp_path / "project"
    (project / "drills").mkdir(parents=True)
    (project / "runbooks").mkdir()
    (project / "drills" / "toy-drill.yaml").write_text(DRILL)
    (project / "runbooks" / "rb.yaml").write_text(RUNBOOK)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)]), "DRILL_PATH": str(project),
           "DRILL_STORE": f"sqlite:///{tmp_path}/drill.db"}
    return project, env


def test_a_plugin_target_kind_and_backend_validate_and_run(tmp_path: Path) -> None:
    project, env = _project(tmp_path, with_plugin=True)
    drill = project / "drills" / "toy-drill.yaml"
    validated = subprocess.run([sys.executable, "-m", "harness.cli", "validate", str(drill)], capture_output=True,
                               text=True, env=env, timeout=60)
    assert validated.returncode == 0, validated.stdout + validated.stderr
    ran = subprocess.run([sys.executable, "-c", RUN, str(drill), str(tmp_path / "reports")], capture_output=True,
                         text=True, env=env, timeout=120)
    assert ran.returncode == 0, ran.stderr[-2000:]
    result = json.loads(ran.stdout.strip().splitlines()[-1])
    assert result == {"status": "passed", "reason": result["reason"], "target": "toy", "backend": "toy-engine",
                      "greeting": "hi"}, result
    assert result["reason"].startswith("rolled back to v2")


def test_without_the_plugin_the_kind_is_refused_naming_the_field(tmp_path: Path) -> None:
    project, env = _project(tmp_path, with_plugin=False)
    proc = subprocess.run([sys.executable, "-m", "harness.cli", "validate", str(project / "drills" / "toy-drill.yaml")],
                          capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "target" in proc.stderr and "no target kind 'toy'" in proc.stderr
    assert "no backend 'toy-engine'" in proc.stderr  # every problem at once
