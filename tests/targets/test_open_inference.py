"""The Open Inference Protocol example (examples/open-inference, docs/open-inference.md), without Docker.

Its server is loaded from the example's own file and spoken to over 127.0.0.1; its drill loads and validates;
the docs page shows exactly that drill. The run against Docker is tests/targets/test_open_inference_docker.py."""

from __future__ import annotations

import http.client
import importlib.util
import json
import re
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

from harness.serving.fault_proxy import FaultConfig, FaultProxy
from harness.spec import catalogue
from harness.targets.image.spec import ImageTargetSpec, load_requests
from tests.conftest import ROOT

EXAMPLE = ROOT / "examples" / "open-inference"
DRILL = EXAMPLE / "drills" / "oip-canary-rollback.yaml"
PAGE = ROOT / "docs" / "open-inference.md"


def example_server() -> ModuleType:
    spec = importlib.util.spec_from_file_location("oip_example_server", EXAMPLE / "server.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def servers() -> Iterator[list[Any]]:
    started: list[Any] = []
    yield started
    for server in started:
        server.shutdown()


def call(port: int, method: str, path: str, body: object = None) -> tuple[int, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request(method, path, json.dumps(body) if body is not None else None, {"Content-Type": "application/json"})
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, json.loads(data) if resp.getheader("Content-Type", "").startswith("application/json") else data.decode()


REQUEST = {"inputs": [{"name": "amount", "shape": [2], "datatype": "FP32", "data": [12.5, 250.0]}]}


def test_the_example_server_speaks_v2_on_its_versioned_path_and_keeps_metrics_apart(servers: list[Any]) -> None:
    oip = example_server().OipServer("fraud", "2", port=0, metrics_port=0, host="127.0.0.1").start()
    servers.append(oip)
    port, metrics_port = oip.ports
    status, answer = call(port, "POST", "/v2/models/fraud/versions/2/infer", REQUEST)
    assert status == 200 and answer["model_version"] == "2" and answer["outputs"][0]["data"] == [0, 1]
    assert call(port, "POST", "/v2/models/fraud/infer", REQUEST)[0] == 200  # the unversioned path: this version
    assert call(port, "POST", "/v2/models/fraud/versions/1/infer", REQUEST)[0] == 404  # not this server's version
    assert call(port, "GET", "/v2/health/ready")[0] == 200
    assert call(port, "GET", "/metrics")[0] == 404  # metrics live on their own port only
    status, text = call(metrics_port, "GET", "/metrics")
    assert status == 200 and 'oip_infer_requests_total{model="fraud",version="2",status="200"} 2' in text
    assert 'status="404"} 1' in text


def test_a_failing_version_answers_500_and_counts_it(servers: list[Any]) -> None:
    oip = example_server().OipServer("fraud", "2", port=0, metrics_port=0, fail_rate=1.0, host="127.0.0.1").start()
    servers.append(oip)
    assert call(oip.ports[0], "POST", "/v2/models/fraud/versions/2/infer", REQUEST)[0] == 500
    assert 'status="500"} 1' in call(oip.ports[1], "GET", "/metrics")[1]


def test_the_path_proxy_brings_the_stables_path_to_another_versions_server(servers: list[Any]) -> None:
    """What the drill does for version 2: clients send version 1's path, the proxy rewrites it to version 2's."""
    spec = catalogue.load_drill(str(DRILL)).spec.target
    assert isinstance(spec, ImageTargetSpec)
    oip = example_server().OipServer("fraud", "2", port=0, metrics_port=0, host="127.0.0.1").start()
    servers.append(oip)
    proxy = FaultProxy(FaultConfig("127.0.0.1", oip.ports[0], rewrite=(spec.routed_path, spec.path_for("2"))),
                       port=0, metrics_port=0, host="127.0.0.1").start()
    servers.append(proxy)
    status, answer = call(proxy.port, "POST", spec.routed_path, REQUEST)
    assert spec.routed_path == "/v2/models/fraud/versions/1/infer"
    assert status == 200 and answer["model_version"] == "2"


def test_the_example_drill_validates_with_its_metrics_port_and_version_paths() -> None:
    drill = catalogue.load_drill(str(DRILL))
    spec = drill.spec.target
    assert isinstance(spec, ImageTargetSpec)
    assert (spec.scrape_port, spec.metrics_path, spec.health_path) == (8082, "/metrics", "/v2/health/ready")
    assert [spec.path_for(v) for v in ("1", "2")] == ["/v2/models/fraud/versions/1/infer", "/v2/models/fraud/versions/2/infer"]
    assert len(load_requests(spec.request.source)) == 4
    assert drill.runbook.name == "oip-canary-rollback"


def test_the_docs_page_shows_the_example_drill_as_it_is() -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", PAGE.read_text(encoding="utf-8"), re.S)
    assert DRILL.read_text(encoding="utf-8") in blocks
    assert (EXAMPLE / "runbooks" / "oip-canary-rollback.yaml").read_text(encoding="utf-8") in blocks
