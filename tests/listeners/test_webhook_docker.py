"""A real drill pages a person through a webhook given on the command line (--var webhook=...).

The runbook's notify step carries ``url: "${webhook}"``; the drill also names ``notify: {webhook:
"${webhook}"}`` so its start, decision and result are posted too. The receiver is a plain
http.server in a thread of this test, on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.conftest import CATALOGUE, harness_resources

pytestmark = pytest.mark.docker


@pytest.fixture
def chat() -> Iterator[tuple[str, list[dict[str, object]]]]:
    received: list[dict[str, object]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            received.append({"path": self.path, **json.loads(body)})
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/services/T000/B000/XXXX", received
    server.shutdown()
    server.server_close()


def _project(root: Path) -> None:
    """canary-fail with a runbook that pages through ${webhook}, and the drill's own notify webhook."""
    (root / "drills").mkdir()
    (root / "runbooks").mkdir()
    runbook = (CATALOGUE / "runbooks" / "canary-rollback.yaml").read_text()
    paging = 'params: {channel: ml-oncall, message: "rolling back fraud ${candidate_version} -> ${stable_version}"}'
    assert paging in runbook
    runbook = runbook.replace("name: canary-rollback", "name: paging-rollback").replace(
        paging, paging[:-1] + ', url: "${webhook}"}')
    (root / "runbooks" / "paging-rollback.yaml").write_text(runbook)
    drill = (CATALOGUE / "drills" / "canary-fail.yaml").read_text()
    drill = drill.replace("name: canary-fail", "name: paging-drill").replace(
        "runbook: canary-rollback", "runbook: paging-rollback")
    (root / "drills" / "paging-drill.yaml").write_text(drill + 'notify: {webhook: "${webhook}"}\n')


def test_runbook_pages_through_a_webhook_given_by_var(tmp_path: Path, docker_client: object,
                                                     chat: tuple[str, list[dict[str, object]]]) -> None:
    url, received = chat
    _project(tmp_path)
    env = {**os.environ, "DRILL_STORE": f"sqlite:///{tmp_path}/drill.db", "DRILL_PATH": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-m", "harness.cli", "run", "paging-drill", "--json", "--report-dir", str(tmp_path / "r"),
         "--var", f"webhook={url}"],
        check=False, capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    texts = [str(m["text"]) for m in received]
    assert all(m["path"] == "/services/T000/B000/XXXX" for m in received)
    # The runbook's page reached the receiver, with the run's variables filled in.
    assert "[#ml-oncall] rolling back fraud v3 -> v2" in texts
    page = next(s for s in result["steps"] if s["name"] == "page-model-owner")
    assert page["status"] == "ok" and "posted to http://127.0.0.1:" in page["detail"]
    assert "XXXX" not in page["detail"]  # the webhook's secret path stays out of the report
    # The drill's own notifications: start, decision, result, in that order. They go out from the listener's
    # own thread (a slow chat server never delays the rollback), so the runbook's page may come before or
    # after the decision message; the result comes last, after the run.
    run_id = result["run_id"]
    assert texts[0] == f"Drill paging-drill started (run {run_id}, profile ci)."
    decided = [i for i, t in enumerate(texts) if t.startswith("Drill paging-drill: decision rollback (automated)")]
    assert len(decided) == 1 and 0 < decided[0] < len(texts) - 1
    assert texts[-1].startswith("Drill paging-drill PASSED: rolled back to v2") and run_id in texts[-1]
    assert len(texts) == 4
    containers, networks, volumes = harness_resources(docker_client, run_id)
    assert (containers, networks, volumes) == ([], [], [])


def test_a_page_that_reaches_no_one_fails_the_drill_not_the_rollback(tmp_path: Path, docker_client: object) -> None:
    """Nobody was paged: the drill fails naming that step, yet the rollback ran to the end (the step is
    on_failure: continue) and the drill's own listener only logged its failures."""
    _project(tmp_path)
    env = {**os.environ, "DRILL_STORE": f"sqlite:///{tmp_path}/drill.db", "DRILL_PATH": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-m", "harness.cli", "run", "paging-drill", "--json", "--report-dir", str(tmp_path / "r"),
         "--var", "webhook=http://127.0.0.1:9/hook"],
        check=False, capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    result = json.loads(proc.stdout)
    assert result["status"] == "failed" and "page-model-owner failed" in result["reason"]
    page = next(s for s in result["steps"] if s["name"] == "page-model-owner")
    assert page["status"] == "failed" and "webhook http://127.0.0.1:9/… unreachable" in page["error"]
    assert all(s["status"] == "ok" for s in result["steps"] if s["name"] != "page-model-owner")
    assert result["serving_version_after"] == "v2"
    assert proc.stderr.count("drill notify (not fatal)") == 3  # start, decision, result: logged, not raised
    assert (tmp_path / "r" / result["run_id"] / "report.html").is_file()
    containers, networks, volumes = harness_resources(docker_client, result["run_id"])
    assert (containers, networks, volumes) == ([], [], [])
