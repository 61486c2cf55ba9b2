"""Validation gathers every error of a drill at once, each at the line of its field: the drill's own fields,
its request file's lines, its runbook's name, fields and actions, and the target's cross-checks (an image
target's fault points at the ``fault:`` line, not the top of the file)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from harness.errors import SpecError, SpecIssue
from harness.spec import catalogue

RUNBOOK = """\
name: rb
steps:
  - name: drain
    action: router.drain
    params: {server: candidate}
"""


def image_drill(request_source: str = "requests.jsonl", weight: str = "10", runbook: str = "rb",
                fault: str = "{kind: error, inject: true, rate: 0.3, status: 503}") -> str:
    return f"""\
name: team-canary
model: team
root_cause: infrastructure
target:
  kind: image
  request:
    source: ../{request_source}
  versions:
    v1: {{image: "team:v1"}}
    v2: {{image: "team:v2"}}
  stable: v1
  candidate: v2
strategy: {{kind: canary, weight: {weight}}}
fault: {fault}
detection:
  compare:
    - {{name: errors, measure: error}}
runbook: {runbook}
"""


def project(tmp_path: Path, drill: str, runbook: str = RUNBOOK, requests: str | None = '{"body": {"x": 1}}\n') -> Path:
    (tmp_path / "drills").mkdir()
    (tmp_path / "runbooks").mkdir()
    (tmp_path / "drills" / "team-canary.yaml").write_text(drill)
    (tmp_path / "runbooks" / "rb.yaml").write_text(runbook)
    if requests is not None:
        (tmp_path / "requests.jsonl").write_text(requests)
    return tmp_path / "drills" / "team-canary.yaml"


def issues_of(path: Path) -> list[SpecIssue]:
    with pytest.raises(SpecError) as caught:
        catalogue.load_drill(str(path))
    return caught.value.issues


def line_of(path: Path, starts: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if line.lstrip().startswith(starts))


def test_a_missing_request_file_does_not_hide_the_other_errors(tmp_path: Path) -> None:
    path = project(tmp_path, image_drill(weight="150", runbook="no-such-runbook"), requests=None)
    found = {(Path(i.file).name, i.field, i.line) for i in issues_of(path)}
    assert ("team-canary.yaml", "target.request.source", line_of(path, "source:")) in found
    assert ("team-canary.yaml", "strategy.weight", line_of(path, "strategy:")) in found
    assert ("team-canary.yaml", "runbook", line_of(path, "runbook:")) in found
    assert len(found) == 3


def test_request_file_lines_drill_fields_and_runbook_errors_together(tmp_path: Path) -> None:
    runbook = RUNBOOK + "  - name: oops\n    action: router.drian\n"
    requests = '{"body": {"x": 1}}\nnot json\n{"body": {"x": 2}}\n{"expect": 1}\n'
    path = project(tmp_path, image_drill(weight="-1"), runbook=runbook, requests=requests)
    found = {(Path(i.file).name, i.field, i.line) for i in issues_of(path)}
    assert ("requests.jsonl", "-", 2) in found  # bad JSON, at its line of the request file
    assert ("requests.jsonl", "body", 4) in found  # a line without a body
    assert ("team-canary.yaml", "strategy.weight", line_of(path, "strategy:")) in found
    assert ("rb.yaml", "steps.1.action", 7) in found  # the unknown action, at its line of the runbook
    assert len(found) == 4


def test_a_bad_request_file_alone_is_reported_with_its_lines(tmp_path: Path) -> None:
    path = project(tmp_path, image_drill(), requests='{"body": 1}\n[1, 2]\n')
    assert [(Path(i.file).name, i.line) for i in issues_of(path)] == [("requests.jsonl", 2)]


def test_an_image_target_fault_error_points_at_the_fault_line(tmp_path: Path) -> None:
    path = project(tmp_path, image_drill(fault="\n  kind: latency\n  ms: 200"))  # a model's fault, on an image
    [issue] = issues_of(path)
    assert issue.field == "fault" and issue.line == line_of(path, "fault:") and "inject: true" in issue.message


def test_a_builtin_drill_with_inject_points_at_the_inject_line(tmp_path: Path) -> None:
    drill = """\
name: team-canary
root_cause: performance
fault:
  kind: error_slice
  inject: true
detection:
  compare: [{name: errors, measure: error}]
runbook: rb
"""
    path = project(tmp_path, drill)
    [issue] = issues_of(path)
    assert issue.field == "fault.inject" and issue.line == 5


def test_drill_validate_lists_every_error_and_exits_2(tmp_path: Path) -> None:
    path = project(tmp_path, image_drill(weight="150", runbook="no-such-runbook"), requests=None)
    proc = subprocess.run([sys.executable, "-m", "harness.cli", "validate", str(path)], capture_output=True,
                          text=True, check=False, timeout=120)
    assert proc.returncode == 2
    out = proc.stdout + proc.stderr
    for field in ("request.source", "strategy.weight", "runbook"):
        assert field in out, out
