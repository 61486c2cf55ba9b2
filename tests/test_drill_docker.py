"""The real thing: drills against real containers, through the CLI as a user runs them."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.conftest import CATALOGUE, ROOT, harness_resources

pytestmark = pytest.mark.docker
DRILL = [sys.executable, "-m", "harness.cli"]


def _run(args: list[str], env_dir: Path, **kw: object) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DRILL_STORE": f"sqlite:///{env_dir}/drill.db", "DRILL_PATH": str(ROOT)}
    return subprocess.run([*DRILL, *args], capture_output=True, text=True, env=env, timeout=300, cwd=env_dir, **kw)  # type: ignore[call-overload]


def _assert_nothing_left(client: object, run_id: str) -> None:
    containers, networks, volumes = harness_resources(client, run_id)
    assert (containers, networks, volumes) == ([], [], []), "the harness left resources behind"


def test_canary_fail_end_to_end(tmp_path: Path, docker_client: object) -> None:
    proc = _run(["run", "canary-fail", "--json", "--report-dir", str(tmp_path / "reports")], tmp_path)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)

    assert result["status"] == "passed" and result["trigger"] == "automated" and result["root_cause"] == "performance"
    assert [p["name"] for p in result["phases"]] == ["prepare", "baseline", "deploy", "detect", "rollback", "teardown"]
    ts = result["timestamps"]
    order = [ts[k] for k in ("deployed_at", "first_breach_at", "decision_at", "rollback_started_at", "completed_at")]
    assert all(order) and order == sorted(order), ts
    assert result["serving_version_after"] == result["versions"]["stable"] == "v2"
    assert result["within_target"] is True and result["target_s"] == 900
    d = result["durations"]
    assert d["detect_s"] > 0 and 0 < d["decision_to_completion_s"] <= d["deploy_to_recovery_s"]
    steps = {s["name"]: s for s in result["steps"]}
    assert steps["drain-candidate"]["action"] == "router.drain"
    assert all(s["status"] == "ok" and s["attempts"] >= 1 and s["duration_s"] is not None for s in result["steps"])
    traffic = result["traffic"]
    assert traffic["failed_during_rollback"] == 0
    assert traffic["bad_responses_served"] > 0  # the canary really did serve errors before the decision
    assert traffic["by_version"].get("v3", 0) > 0 and traffic["requests"] > 300
    failing = [e for e in result["evidence"] if e["verdict"] == "fail"]
    assert failing, result["evidence"]
    for e in failing:  # whichever check decided: the sequential error check or the PromQL 5xx ratio
        if e["kind"] == "sequential":
            assert e["e_value"] >= e["threshold"] and e["baseline_source"] == "stable since deploy"
            # A one-sided confidence sequence of the rate ratio: rejected exactly when it excludes 1 (no effect).
            assert e["lower"] > 1 and e["upper"] is None
            assert e["effect_size"] is None or e["lower"] <= e["effect_size"]
        else:
            assert e["canary_value"] > e["threshold"] and e["samples"] >= e["min_samples"]
    looks = [p for p in result["evidence_trace"] if p["check"] == "client-errors-vs-baseline"]
    assert looks and looks == sorted(looks, key=lambda p: p["t_s"])
    if any(e["metric"] == "client-errors-vs-baseline" for e in failing):  # the trace ends where that check decided
        assert looks[-1]["statistic"] >= looks[-1]["threshold"]
    else:  # the PromQL ratio decided first: the sequential check had not crossed its threshold yet, or it had
        # but was still short of its min_samples (it never decides below them: inconclusive, not fail)
        seq = next(e for e in result["evidence"] if e["metric"] == "client-errors-vs-baseline")
        assert looks[-1]["statistic"] < looks[-1]["threshold"] or seq["verdict"] == "inconclusive", seq

    report = tmp_path / "reports" / result["run_id"]
    assert json.loads((report / "report.json").read_text())["run_id"] == result["run_id"]
    assert "rolled back to v2" in (report / "report.md").read_text()

    from harness.store import Store

    with Store.open(f"sqlite:///{tmp_path}/drill.db") as store:
        runs = store.list_drill_runs()
    assert [(r.run_id, r.status, r.rolled_back, r.to_version) for r in runs] == [(result["run_id"], "passed", True, "v2")]
    assert len(runs[0].steps) == len(result["steps"])
    _assert_nothing_left(docker_client, result["run_id"])


def test_ctrl_c_tears_everything_down(tmp_path: Path, docker_client: object) -> None:
    env = {**os.environ, "DRILL_STORE": f"sqlite:///{tmp_path}/drill.db", "DRILL_PATH": str(ROOT)}
    proc = subprocess.Popen([*DRILL, "run", "canary-fail", "--json", "--report-dir", str(tmp_path)], cwd=tmp_path,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    seen = proc.stderr.readline()
    run_id = seen.strip().rsplit("run ", 1)[-1]
    deadline = time.monotonic() + 120
    while "phase deploy" not in seen and time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        seen += line
    containers, _, _ = harness_resources(docker_client, run_id)
    assert containers, "the stack should be up when we interrupt"
    proc.send_signal(signal.SIGINT)
    _, rest = proc.communicate(timeout=60)
    assert proc.returncode == 130, seen + rest
    reports = list(tmp_path.glob("*/report.json"))
    assert len(reports) == 1 and json.loads(reports[0].read_text())["status"] == "aborted"
    _assert_nothing_left(docker_client, run_id)


def test_drill_clean_removes_what_a_killed_run_left(tmp_path: Path, docker_client: object) -> None:
    from harness.spec.models import FaultSpec
    from harness.stack.images import ensure_images
    from harness.targets.builtin.registry import Registry
    from harness.targets.builtin.seed import seed_registry
    from harness.targets.builtin.stack import Stack

    registry = Registry(tmp_path / "registry", "fraud")
    versions = seed_registry(registry, FaultSpec(kind="none"))
    run_id = f"orphan-{uuid.uuid4().hex[:8]}"
    stack = Stack(docker_client, ensure_images(docker_client, lambda _m: None), run_id, "fraud")  # type: ignore[arg-type]
    try:
        stack.start(registry.root, versions.stable)  # and never closed: a "crashed" run
        containers, networks, volumes = harness_resources(docker_client, run_id)
        assert len(containers) == 4 and len(networks) == 2 and len(volumes) == 1  # 3 services + the registry loader
        # The stack's image is the bootstrapped base (default user root, for a team's builds on it) where no registry
        # answers: every server names its unprivileged user itself (the loader never runs; it only holds the volume).
        users = {c.labels.get("io.drill.role"): c.attrs["Config"]["User"] for c in containers}  # type: ignore[attr-defined]
        assert {role: user for role, user in users.items() if role != "registry-loader"} == dict.fromkeys(
            ("router", "prometheus", "model-stable"), "65534:65534"), users
        _assert_the_model_cannot_reach_the_runtime_api_or_the_outside(stack)
        # A killed image-target run also leaves its per-run image tags behind.
        run_tag = f"drill-team-probe:run-{run_id}-v1"
        docker_client.images.get(stack.images.model).tag(run_tag)  # type: ignore[attr-defined]
        # Scoped to this run so a test never sweeps another run sharing the engine; plain `drill clean` sweeps all.
        proc = _run(["clean", "--run-id", run_id], tmp_path)
        assert "1 run image tag(s)" in proc.stdout, proc.stdout
        assert not any(run_tag in i.tags for i in docker_client.images.list())  # type: ignore[attr-defined]
        assert proc.returncode == 0 and "removed 4 container(s), 2 network(s), 1 volume(s)" in proc.stdout, proc.stdout
        _assert_nothing_left(docker_client, run_id)
    finally:
        stack.close()


PROBE = """
import socket, sys
def talk(host, port, line):
    try:
        with socket.create_connection((host, port), timeout=3) as s:
            s.sendall(line)
            return s.recv(4096)
    except OSError as exc:
        return repr(exc).encode()
print(talk("router", 9999, b"show stat\\n")[:60])
print(talk("deb.debian.org", 80, b"HEAD / HTTP/1.0\\r\\n\\r\\n")[:60])
"""


def _assert_the_model_cannot_reach_the_runtime_api_or_the_outside(stack: object) -> None:
    # The bad model runs on the run network: the router's admin API and the internet must be out of its reach,
    # while the harness (through the published port) still drives the router.
    model = stack.models["stable"].get_wrapped_container()  # type: ignore[attr-defined]
    _code, out = model.exec_run(["python3", "-c", PROBE])
    api_answer, egress = out.decode().splitlines()[:2]
    assert "pxname" not in api_answer and ("Error" in api_answer or api_answer in ("b''", "")), api_answer
    assert "HTTP" not in egress, egress
    assert "stable" in stack.router.servers()  # type: ignore[attr-defined]


def test_bad_input_exits_2_and_starts_nothing(tmp_path: Path, docker_client: object) -> None:
    # A uniquely named copy of the catalogue, so any container it started would be recognisable by name.
    shutil.copytree(CATALOGUE / "runbooks", tmp_path / "runbooks")
    (tmp_path / "drills").mkdir()
    probe = (CATALOGUE / "drills" / "canary-fail.yaml").read_text().replace("name: canary-fail", "name: bad-input-probe")
    (tmp_path / "drills" / "bad-input-probe.yaml").write_text(probe)
    broken = tmp_path / "drills" / "bad-input-probe-broken.yaml"
    broken.write_text(probe.replace("weight: 10", "weight: ten"))
    since = int(time.time()) - 1

    proc = _run(["run", "no-such-drill"], tmp_path)
    assert proc.returncode == 2 and "no-such-drill" in proc.stderr
    proc = _run(["run", str(broken)], tmp_path)
    assert proc.returncode == 2 and str(broken) in proc.stderr and "strategy.weight" in proc.stderr
    proc = _run(["run", "bad-input-probe", "--profile", "weekly"], tmp_path)
    assert proc.returncode == 2 and "weekly" in proc.stderr
    proc = _run(["run", "bad-input-probe", "--manual", "--answers", str(tmp_path / "missing.txt")], tmp_path)
    assert proc.returncode == 2 and "missing.txt" in proc.stderr
    proc = _run(["run", "bad-input-probe", "--no-such-flag"], tmp_path)
    assert proc.returncode == 2 and "no-such-flag" in proc.stderr

    events = docker_client.events(since=since, until=int(time.time()) + 1, decode=True,  # type: ignore[attr-defined]
                                  filters={"type": "container", "event": "create", "label": "io.drill.harness=true"})
    started = [e["Actor"]["Attributes"].get("name", "") for e in events]
    assert [n for n in started if "bad-input-probe" in n] == [], "bad input must start nothing"
    assert not list(tmp_path.glob("reports/*")) and not (tmp_path / "drill.db").exists()


def test_sigterm_with_json_prints_the_aborted_result_and_records_it(tmp_path: Path, docker_client: object) -> None:
    env = {**os.environ, "DRILL_STORE": f"sqlite:///{tmp_path}/drill.db", "DRILL_PATH": str(ROOT)}
    proc = subprocess.Popen([*DRILL, "run", "canary-fail", "--json", "--report-dir", str(tmp_path / "r")], cwd=tmp_path,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    seen = ""
    deadline = time.monotonic() + 120
    while "phase baseline" not in seen and time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        seen += line
    proc.send_signal(signal.SIGTERM)
    out, rest = proc.communicate(timeout=60)
    assert proc.returncode == 130, seen + rest
    result = json.loads(out)
    assert result["status"] == "aborted" and "torn down" in rest
    from harness.store import Store

    with Store.open(f"sqlite:///{tmp_path}/drill.db") as store:
        assert [r.status for r in store.list_drill_runs()] == ["aborted"]
    _assert_nothing_left(docker_client, result["run_id"])


def test_a_console_that_loses_its_pipe_loses_no_run(tmp_path: Path, docker_client: object) -> None:
    # `drill run canary-fail 2>&1 | head -3`: the console's pipe closes early; the row, reports and teardown stay.
    env = {**os.environ, "DRILL_STORE": f"sqlite:///{tmp_path}/drill.db", "DRILL_PATH": str(ROOT)}
    cmd = " ".join([*DRILL, "run", "canary-fail", "--report-dir", str(tmp_path / "r")]) + " 2>&1 | head -3"
    proc = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert len(proc.stdout.splitlines()) == 3
    from harness.store import Store

    deadline = time.monotonic() + 60  # the drill goes on after head exits
    runs: list[object] = []
    while time.monotonic() < deadline:
        with Store.open(f"sqlite:///{tmp_path}/drill.db") as store:
            runs = store.list_drill_runs()
        if runs:
            break
        time.sleep(1)
    assert [r.status for r in runs] == ["passed"]  # type: ignore[attr-defined]
    run_id = runs[0].run_id  # type: ignore[attr-defined]
    assert (tmp_path / "r" / run_id / "report.json").exists()
    _assert_nothing_left(docker_client, run_id)


def test_a_report_dir_under_a_regular_file_is_bad_input_and_starts_nothing(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    proc = _run(["run", "canary-fail", "--report-dir", str(blocker / "reports")], tmp_path)
    assert proc.returncode == 2 and "--report-dir" in proc.stderr and "not a directory" in proc.stderr
    assert not (tmp_path / "drill.db").exists()


def test_run_all_goes_on_past_a_drill_this_engine_cannot_run(tmp_path: Path, docker_client: object) -> None:
    """A multi-node drill on one engine is reported as not run here (exit 3); the drills after it still run."""
    drills = tmp_path / "drills"
    drills.mkdir()
    for name in ("swarm-image-missing", "canary-fail"):  # sorted: the multi-node one comes first
        shutil.copy(CATALOGUE / "drills" / f"{name}.yaml", drills)
    env = {**os.environ, "DRILL_STORE": f"sqlite:///{tmp_path}/drill.db", "DRILL_PATH": str(tmp_path)}
    proc = subprocess.run([*DRILL, "run", "--all", "--json", "--report-dir", str(tmp_path / "reports")],
                          capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path)
    assert proc.returncode == 3, proc.stderr[-2000:]
    by_drill = {entry["drill"]: entry for entry in json.loads(proc.stdout)}
    assert by_drill["canary-fail"]["status"] == "passed"
    assert by_drill["swarm-image-missing"]["status"] == "not_run"
    assert "drill cluster up --nodes 3" in by_drill["swarm-image-missing"]["reason"]
    assert "1 of 1 drill(s) ended as expected; 1 could not run in this environment (exit 3)" in proc.stderr
