"""A promql stop condition against a real Prometheus (the harness's own image, Debian's Prometheus 2.42) that
scrapes the team's gateway: the staging alarm of an AWS FIS stop condition, on loopback.

Prometheus runs in a container on the host's network namespace, listening on 127.0.0.1 only, so both it (to
scrape the in-process gateway) and the harness (to query it) stay on loopback. The guard names no URL: it
queries the external target's ``prometheus:``, as the detection's PromQL would.
"""

from __future__ import annotations

import socket
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.engine.engine import Engine, RunOptions
from harness.outcomes import RunStatus
from harness.spec import catalogue
from harness.stack.images import ensure_images
from tests.targets.test_external_target import write_project
from tests.team_stack import TeamStack, ops_log

pytestmark = pytest.mark.docker
LABEL = "io.drill.run-id"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def stack() -> Iterator[TeamStack]:
    team = TeamStack({"v1": 0.0, "v2": 0.0}, stable="v1")
    yield team
    team.close()


@pytest.fixture
def prometheus(docker_client: Any, stack: TeamStack) -> Iterator[str]:
    port = _free_port()
    config = (f"global: {{scrape_interval: 500ms}}\nscrape_configs:\n  - job_name: gateway\n"
              f"    static_configs: [{{targets: ['127.0.0.1:{stack.port}']}}]\n")
    command = (f'printf "%s" "$DRILL_CONFIG" > /tmp/p.yml && exec prometheus --config.file=/tmp/p.yml '
               f"--storage.tsdb.path=/tmp/tsdb --web.listen-address=127.0.0.1:{port}")
    image = ensure_images(docker_client, lambda _m: None).prometheus
    container = docker_client.containers.run(image, entrypoint=["sh", "-c", command], environment={"DRILL_CONFIG": config},
                                             network_mode="host", detach=True, labels={LABEL: f"test-external-{port}"})
    url = f"http://127.0.0.1:{port}"
    try:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        deadline = time.monotonic() + 30
        while True:
            try:
                with opener.open(f"{url}/-/ready", timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield url
    finally:
        container.remove(force=True)


def test_a_promql_guard_on_the_teams_prometheus_aborts_the_drill(tmp_path: Path, stack: TeamStack, prometheus: str) -> None:
    guards = """\
stop_conditions:
  - name: gateway-5xx
    kind: promql
    query: sum(rate(gateway_responses_total{code=~"5.."}[2s]))
    above: 2
"""
    path = write_project(tmp_path, f"{stack.url}/predict", stack.url, stop_conditions=guards, min_samples=10_000)
    path.write_text(path.read_text().replace("  workdir: ../ops\n", f"  workdir: ../ops\n  prometheus: {prometheus}\n"))
    broke: list[float] = []

    def break_after_deploy() -> None:
        deadline = time.time() + 30
        while time.time() < deadline and not any(w.get("v2") for _, w in stack.changes):
            time.sleep(0.05)
        time.sleep(1.0)
        broke.append(stack.break_it())

    threading.Thread(target=break_after_deploy, daemon=True).start()
    result = Engine([]).run(catalogue.load_drill(str(path)), RunOptions(report_root=tmp_path / "reports"))

    assert result.status is RunStatus.ABORTED and result.reason.startswith("guard gateway-5xx: "), result.reason
    trip = result.stopped_by
    assert trip is not None and trip.kind == "promql" and trip.value is not None and trip.value > 2
    assert 0 <= trip.abort_latency_s <= 1.0  # the breach seen -> the abort under way
    # The break -> the abort: Prometheus's scrape (500 ms) and the rate window add their lag, as an alarm's would.
    assert broke and 0 < trip.abort_started_at.timestamp() - broke[0] <= 4.0
    assert [e["action"] for e in ops_log(tmp_path / "ops.log")] == ["deploy", "abort"]
    print(f"promql guard: break -> abort {trip.abort_started_at.timestamp() - broke[0]:.2f}s, "
          f"breach -> abort {trip.abort_latency_s:.3f}s")
