"""Never lost, never halfway, against real containers (issue 28): SIGTERM to `drill gameday` mid-drill, with a
fault active, leaves nothing behind and records the run; a store that goes away mid-run is exit 3 and the result
JSON says the row was not written; `drill clean` leaves alone a container that merely runs an image built on
drill's base."""

from __future__ import annotations

import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tarfile
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, harness_resources

pytestmark = pytest.mark.docker
DRILL = [sys.executable, "-m", "harness.cli.main"]


def _until(proc: subprocess.Popen[str], text: str, limit: float = 180) -> str:
    assert proc.stderr is not None
    seen, deadline = "", time.monotonic() + limit
    while text not in seen and time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        seen += line
    assert text in seen, seen
    return seen


def test_sigterm_to_a_gameday_mid_drill_undoes_the_fault_tears_down_and_records(tmp_path: Path,
                                                                                docker_client: object) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text("name: sigterm\nparticipants:\n  - {name: Ana, role: incident-commander}\n"
                    "  - {name: Ben, role: operator}\n  - {name: Chloe, role: scribe}\ndrills: [registry-down]\n")
    answers = tmp_path / "answers.yaml"
    answers.write_text("drills:\n  - [rollback]\nretrospective: {went_well: [], went_badly: [], actions: []}\n")
    db = tmp_path / "drill.db"
    env = {**os.environ, "DRILL_STORE": f"sqlite:///{db}", "DRILL_PATH": str(ROOT)}
    proc = subprocess.Popen([*DRILL, "gameday", str(plan), "--answers", str(answers), "--report-dir",
                             str(tmp_path / "reports")], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    seen = _until(proc, "adversity registry-down struck")  # mid-rollback, the registry refusing every call
    proc.send_signal(signal.SIGTERM)
    _, rest = proc.communicate(timeout=120)
    assert proc.returncode == 130, seen + rest

    from harness.store import Store

    with Store.open(f"sqlite:///{db}") as store:
        runs = store.list_drill_runs()
        (gameday_id,) = {r.gameday_id for r in runs}
        assert gameday_id is not None and store.gameday(gameday_id) is not None
    assert [(r.drill, r.status) for r in runs] == [("registry-down", "aborted")]
    report = json.loads((tmp_path / "reports" / runs[0].run_id / "report.json").read_text())
    assert report["status"] == "aborted" and report["recorded"] is True
    (fault,) = report["adversity"]
    assert fault["struck_at"] and fault["ended_at"], fault  # the fault was undone, not left active
    assert harness_resources(docker_client, runs[0].run_id) == ([], [], [])


def test_a_store_that_goes_away_mid_run_is_exit_3_and_the_result_says_the_row_was_not_written(
        tmp_path: Path, docker_client: object) -> None:
    db = tmp_path / "drill.db"
    env = {**os.environ, "DRILL_STORE": f"sqlite:///{db}", "DRILL_PATH": str(ROOT)}
    proc = subprocess.Popen([*DRILL, "run", "canary-fail", "--json", "--report-dir", str(tmp_path / "reports")],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = _until(proc, "phase deploy")
    with sqlite3.connect(db) as conn:  # the store loses a table, as a database restored from an old dump would
        conn.execute("DROP TABLE drill_steps")
    out, rest = proc.communicate(timeout=180)
    assert proc.returncode == 3, seen + rest
    result = json.loads(out)
    assert result["status"] == "passed" and result["recorded"] is False
    assert "the row was not written" in rest
    assert json.loads((tmp_path / "reports" / result["run_id"] / "report.json").read_text())["recorded"] is False
    assert harness_resources(docker_client, result["run_id"]) == ([], [], [])


def test_drill_clean_leaves_a_container_of_an_image_built_on_the_base(tmp_path: Path, docker_client: object) -> None:
    from harness.stack import docker_api
    from harness.stack.images import ensure_base

    client: Any = docker_client
    base = ensure_base(client, lambda _m: None, force=False)
    reserved = {docker_api.LABEL_HARNESS, docker_api.LABEL_RUN, docker_api.LABEL_CLUSTER}
    assert not reserved & set(client.images.get(base).labels or {})  # nothing a sweep reads is inherited

    tag = f"drill-test-team-{uuid.uuid4().hex[:8]}:1"
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        data = f"FROM {base}\nCMD [\"sleep\", \"300\"]\n".encode()
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    context.seek(0)
    client.images.build(fileobj=context, custom_context=True, tag=tag, pull=False, rm=True)
    team = client.containers.run(tag, detach=True, name=f"team-by-hand-{uuid.uuid4().hex[:8]}")
    try:
        # What `drill clean` (no --run-id) would remove; listed, not swept: other sessions' runs share this engine.
        selected = {c.id for labels in docker_api.selectors(None)
                    for c in client.containers.list(all=True, filters={"label": labels})}
        assert team.id not in selected
        # And a run's own clean, the one this test may run, leaves it too.
        run_id = f"orphan-{uuid.uuid4().hex[:8]}"
        own = client.containers.run(base, ["sleep", "300"], detach=True, labels=docker_api.run_labels(run_id, "probe"))
        proc = subprocess.run([*DRILL, "clean", "--run-id", run_id], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0 and "removed 1 container(s)" in proc.stdout, proc.stdout + proc.stderr
        team.reload()
        assert team.status == "running" and not harness_resources(client, run_id)[0]
        del own
    finally:
        team.remove(force=True)
        client.images.remove(tag, force=True)


def test_a_team_image_is_built_once_and_then_found_by_its_content_label(tmp_path: Path, docker_client: object) -> None:
    """The image labels were renamed (io.drill.image*): the cache still finds the image it built."""
    from harness.stack import docker_api
    from harness.stack.images import ensure_base
    from harness.targets.image.build import ImageBuilder
    from harness.targets.image.spec import BuildSpec, VersionSpec

    client: Any = docker_client
    base = ensure_base(client, lambda _m: None, force=False)
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text(f"FROM {base}\nLABEL team.marker={uuid.uuid4().hex}\n")
    builder = ImageBuilder(client, f"cache-probe-{uuid.uuid4().hex[:6]}", tmp_path / "drill.yaml", lambda _m: None)
    version = VersionSpec(build=BuildSpec(context=context))
    first = builder.resolve("v1", version)
    try:
        again = builder.resolve("v1", version)
        assert first.built and not again.built and again.image_id == first.image_id
        labels = client.images.get(first.tag).labels
        assert labels[docker_api.LABEL_IMAGE_INPUTS] and docker_api.LABEL_HARNESS not in labels
    finally:
        client.images.remove(first.tag, force=True)
