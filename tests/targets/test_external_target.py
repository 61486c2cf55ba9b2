"""The external target end to end, against a team's stack the test starts on 127.0.0.1 (tests/team_stack.py).

No Docker and nothing of the harness replaced: the real engine, load generator, judge and runbook drive the
stack only through its entrypoint and the team's own ops script; the stop conditions watch it as they would
a staging environment.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.engine.engine import Engine, RunOptions
from harness.outcomes import Decision, RunStatus
from harness.spec import catalogue
from tests.team_stack import TeamStack, ops_log, ops_script

RUNBOOK = """\
name: team-rollback
description: The team's rollback (the drain of the candidate runs the target's rollback commands), then verify.
steps:
  - name: team-rollback
    action: router.drain
    params: {server: candidate, settle: 0s}
    timeout: 30s
  - name: restore-previous-alias
    action: registry.restore_previous
    timeout: 5s
  - name: verify-stable-serving
    action: verify.http
    params: {requests: 20, expect_version: "${stable_version}"}
    verify: true
    timeout: 10s
    retry: {attempts: 3, backoff: 200ms}
"""


def command(action: str) -> str:
    return f'[{sys.executable}, ops.py, {action}, "${{stable_version}}", "${{candidate_version}}", "${{weight}}"]'


def write_project(root: Path, url: str, gateway: str, *, stop_conditions: str = "", min_samples: int = 8,
                  weight: int = 30, head: str = "", abort_sleep: str = "") -> Path:
    (root / "drills").mkdir(parents=True, exist_ok=True)
    (root / "runbooks").mkdir(exist_ok=True)
    (root / "ops").mkdir(exist_ok=True)
    ops_script(root / "ops")
    (root / "runbooks" / "team-rollback.yaml").write_text(RUNBOOK, encoding="utf-8")
    (root / "drills" / "requests.jsonl").write_text('{"body": {"amount": 12.5}, "expect": "benign"}\n'
                                                   '{"body": {"amount": 990.0}, "expect": "benign"}\n', encoding="utf-8")
    drill = root / "drills" / "staging-canary.yaml"
    drill.write_text(f"""\
name: staging-canary
model: fraud
root_cause: performance
{head}strategy: {{kind: canary, weight: {weight}}}
fault: {{kind: none}}
traffic: {{rate: 40}}
detection:
  interval: 250ms
  max_wait: 15s
  compare:
    - {{name: client-errors, measure: error, min_samples: {min_samples}}}
runbook: team-rollback
profiles: {{ci: {{baseline: 1s}}}}
target:
  kind: external
  url: {url}
  request: {{source: requests.jsonl}}
  version: {{header: X-Model-Version}}
  prediction_field: label
  stable: v1
  candidate: v2
  workdir: ../ops
  env: {{GATEWAY: "{gateway}", OPS_LOG: "{root / 'ops.log'}"{abort_sleep}}}
  deploy: [{command("deploy")}]
  promote: [{command("promote")}]
  rollback: [{command("rollback")}]
  abort: [{command("abort")}]
{stop_conditions}""", encoding="utf-8")
    return drill


@pytest.fixture
def bad_candidate() -> Iterator[TeamStack]:
    stack = TeamStack({"v1": 0.0, "v2": 0.5}, stable="v1")
    yield stack
    stack.close()


@pytest.fixture
def good_candidate() -> Iterator[TeamStack]:
    stack = TeamStack({"v1": 0.0, "v2": 0.0}, stable="v1")
    yield stack
    stack.close()


def test_a_bad_candidate_is_rolled_back_by_the_teams_own_commands(tmp_path: Path, bad_candidate: TeamStack) -> None:
    stack = bad_candidate
    drill = catalogue.load_drill(str(write_project(tmp_path, f"{stack.url}/predict", stack.url)))
    result = Engine([]).run(drill, RunOptions(report_root=tmp_path / "reports"))

    assert result.status is RunStatus.PASSED, result.reason
    assert result.decision is Decision.ROLLBACK and result.target == "external"
    assert [entry["action"] for entry in ops_log(tmp_path / "ops.log")] == ["deploy", "rollback"]
    assert [w for _, w in stack.changes] == [{"v1": 70, "v2": 30}, {"v1": 100, "v2": 0}]  # the team's moves, nothing else
    assert result.serving_version_after == "v1"
    assert result.traffic is not None and result.traffic.by_version.get("v2", 0) > 0  # the candidate really served
    assert result.stopped_by is None
    step = next(s for s in result.steps if s.name == "team-rollback")
    assert step.status.value == "ok"


def test_a_guard_that_breaches_aborts_within_a_second(tmp_path: Path, good_candidate: TeamStack) -> None:
    """The environment starts failing after the deploy: the http guard trips, the team's abort runs at once,
    no rollback of drill's follows, and the run is recorded aborted naming the guard."""
    stack = good_candidate
    guards = f"""\
environment: loopback-staging
stop_conditions:
  - {{name: gateway-health, kind: http, url: "{stack.url}/healthz", interval: 200ms, breaches: 2}}
"""
    drill = catalogue.load_drill(str(write_project(tmp_path, f"{stack.url}/predict", stack.url, stop_conditions=guards,
                                                   min_samples=10_000)))
    broke: list[float] = []

    def break_after_deploy() -> None:
        deadline = time.time() + 30
        while time.time() < deadline and not any(w.get("v2") for _, w in stack.changes):
            time.sleep(0.05)
        time.sleep(0.5)
        broke.append(stack.break_it())

    threading.Thread(target=break_after_deploy, daemon=True).start()
    result = Engine([]).run(drill, RunOptions(report_root=tmp_path / "reports"))

    assert result.status is RunStatus.ABORTED
    assert result.reason.startswith("guard gateway-health: GET "), result.reason
    trip = result.stopped_by
    assert trip is not None and trip.name == "gateway-health" and trip.kind == "http"
    # Latency from the result's own timestamps: breach seen -> abort under way, and the break itself -> abort.
    assert 0 <= trip.abort_latency_s <= 1.0
    assert broke and 0 < trip.abort_started_at.timestamp() - broke[0] <= 1.0
    assert trip.abort_ok and [c.purpose for c in trip.abort_commands] == ["abort"]
    assert [e["action"] for e in ops_log(tmp_path / "ops.log")] == ["deploy", "abort"]  # no rollback of drill's after it
    assert stack.weights == {"v1": 100, "v2": 0}
    assert "rollback" not in [p.name for p in result.phases]
    assert result.to_json()["stopped_by"]["abort_latency_s"] == trip.abort_latency_s


def test_the_error_budget_over_all_traffic_trips_on_the_drills_own_failures(tmp_path: Path) -> None:
    """A candidate at 50 % that fails every request spends the client error budget before the (slow) judge decides."""
    stack = TeamStack({"v1": 0.0, "v2": 1.0}, stable="v1")
    try:
        guards = "stop_conditions:\n  - {name: client-budget, kind: error_budget, max_error_rate: 0.2, min_requests: 20}\n"
        drill = catalogue.load_drill(str(write_project(tmp_path, f"{stack.url}/predict", stack.url,
                                                       stop_conditions=guards, min_samples=10_000, weight=50)))
        result = Engine([]).run(drill, RunOptions(report_root=tmp_path / "reports"))
    finally:
        stack.close()
    assert result.status is RunStatus.ABORTED and result.reason.startswith("guard client-budget: error rate ")
    assert result.stopped_by is not None and result.stopped_by.value is not None and result.stopped_by.value > 0.2
    assert [e["action"] for e in ops_log(tmp_path / "ops.log")] == ["deploy", "abort"]


def test_an_abort_kills_the_teams_move_still_running(tmp_path: Path, good_candidate: TeamStack) -> None:
    """A deploy command still running when the guard trips is killed (its process group), then abort runs."""
    stack = good_candidate
    stack.break_it()  # hurting from the start: the guard trips during the deploy
    guards = (f"environment: loopback-staging\nstop_conditions:\n"
              f"  - {{name: gateway-health, kind: http, url: \"{stack.url}/healthz\", interval: 100ms, breaches: 1}}\n")
    path = write_project(tmp_path, f"{stack.url}/predict", stack.url, stop_conditions=guards, abort_sleep=', OPS_SLEEP: "0"')
    text = path.read_text().replace(f'deploy: [{command("deploy")}]',
                                    f'deploy: [{{argv: [{sys.executable}, -c, "import time; time.sleep(30)"], timeout: 60s}}]')
    path.write_text(text)
    started = time.monotonic()
    result = Engine([]).run(catalogue.load_drill(str(path)), RunOptions(report_root=tmp_path / "reports"))
    assert result.status is RunStatus.ABORTED and result.stopped_by is not None
    assert time.monotonic() - started < 15  # not the 30 s of the deploy command
    assert [e["action"] for e in ops_log(tmp_path / "ops.log")] == ["abort"]


def test_from_the_command_line_it_touches_only_the_teams_entrypoint_not_docker(tmp_path: Path, bad_candidate: TeamStack) -> None:
    """`drill run` in a process that records every socket it connects: 127.0.0.1 only, and never the Docker API
    (drill starts nothing); the rollback passes (exit 0) and the report says so."""
    import json
    import os
    import subprocess

    from tests.conftest import ROOT

    stack = bad_candidate
    drill = write_project(tmp_path, f"{stack.url}/predict", stack.url, head="environment: loopback-staging\n")
    seen = tmp_path / "connects.json"
    env = {**os.environ, "DOCKER_HOST": "unix:///nonexistent/docker.sock"}  # were Docker used, it would fail
    run = subprocess.run([sys.executable, "-m", "tests.audited_drill", str(seen), "run", str(drill), "--yes", "--json",
                          "--store", f"sqlite:///{tmp_path}/drill.db", "--report-dir", str(tmp_path / "reports")],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    report = json.loads(run.stdout)
    assert report["status"] == "passed" and report["target"] == "external" and report["stopped_by"] is None
    connects = json.loads(seen.read_text())
    assert connects and all(family in ("AF_INET", "AF_INET6") and address[0] in ("127.0.0.1", "::1")
                            for family, address in connects), connects


def test_a_run_aborted_by_a_guard_exits_1_and_its_report_names_the_guard(tmp_path: Path, good_candidate: TeamStack) -> None:
    import json

    from typer.testing import CliRunner

    from harness.cli.main import app

    stack = good_candidate
    stack.break_it()  # hurting before the drill even deploys
    guards = (f"environment: loopback-staging\nstop_conditions:\n"
              f"  - {{name: gateway-health, kind: http, url: \"{stack.url}/healthz\"}}\n")
    drill = write_project(tmp_path, f"{stack.url}/predict", stack.url, stop_conditions=guards)
    result = CliRunner().invoke(app, ["run", str(drill), "--yes", "--json", "--store", f"sqlite:///{tmp_path}/d.db",
                                      "--report-dir", str(tmp_path / "reports")])
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert report["status"] == "aborted" and report["outcome"] == "aborted"
    assert report["reason"].startswith("guard gateway-health: GET ")
    assert "not as expected: a stop condition aborted the run" in result.output
    assert report["stopped_by"]["name"] == "gateway-health" and report["stopped_by"]["abort_ok"] is True
    assert [c["purpose"] for c in report["stopped_by"]["abort_commands"]] == ["abort"]
    assert ops_log(tmp_path / "ops.log")[0]["action"] == "abort"  # nothing deployed: the guard tripped in the baseline
    run_dir = next((tmp_path / "reports").glob("*/"))
    saved = json.loads((run_dir / "report.json").read_text())
    assert saved["stopped_by"]["abort_latency_s"] == report["stopped_by"]["abort_latency_s"]
    page = (run_dir / "report.md").read_text()
    assert "## Stopped by a stop condition" in page and "- guard: gateway-health (http)" in page
    assert "ops.py abort v1 v2 30` | exit 0 |" in page
    assert "<h2>Stopped by a stop condition</h2>" in (run_dir / "report.html").read_text()


def test_a_deploy_that_fails_half_way_is_rolled_back_all_the_same(tmp_path: Path, good_candidate: TeamStack) -> None:
    """The first deploy command moved traffic, the second failed: the candidate never became ready (the
    readiness failure is the detection) and the team's rollback runs, naming the failed command."""
    stack = good_candidate
    path = write_project(tmp_path, f"{stack.url}/predict", stack.url)
    text = path.read_text()
    failing = f'[{sys.executable}, -c, "import sys; print(\'rollout stuck\'); sys.exit(4)"]'
    path.write_text(text.replace(f'deploy: [{command("deploy")}]', f'deploy: [{command("deploy")}, {failing}]'))
    result = Engine([]).run(catalogue.load_drill(str(path)), RunOptions(report_root=tmp_path / "reports"))
    assert result.decision is Decision.ROLLBACK and result.status is RunStatus.PASSED, result.reason
    assert [e.metric for e in result.evidence] == ["candidate-readiness"]
    assert [e["action"] for e in ops_log(tmp_path / "ops.log")] == ["deploy", "rollback"]
    assert stack.weights == {"v1": 100, "v2": 0} and result.serving_version_after == "v1"
