"""The tee for real: harness/serving/tee_proxy.py in the role image, hardened, on a run's internal network,
in front of real servers (the role image's fault proxy answering fixed predictions: the stable 0, the
candidate 1), with its records read through 127.0.0.1. The candidate's container is then removed: the
client's requests keep being answered by the stable, and the copies become the candidate's errors."""

from __future__ import annotations

import http.client
import json
import secrets
import time
from collections.abc import Iterator, Mapping, Sequence

import pytest
from testcontainers.core.network import Network
from testcontainers.core.wait_strategies import LogMessageWaitStrategy

from harness.judge import paired
from harness.judge.tee_records import TeeReader, examples_by_digest
from harness.ports import Endpoint, Example, Reading
from harness.stack.docker_api import run_labels
from harness.stack.images import ensure_images
from harness.stack.services import StackContainer, hardening, stop
from harness.stack.tee import TeeContainer, tee_env
from tests.conftest import harness_resources

pytestmark = pytest.mark.docker


class Protocol:
    method, path, headers = "POST", "/v1/predict", {"Content-Type": "application/json"}

    def examples(self, n: int, seed: int) -> Sequence[Example]:
        return [Example(json.dumps({"features": {"x": i}}).encode(), expected=0) for i in range(n)]

    def read(self, example: Example, status: int, headers: Mapping[str, str], body: bytes) -> Reading:
        prediction = json.loads(body)["prediction"]
        return Reading(None, prediction, None, prediction == example.expected)


def fixed_server(image: str, run_id: str, network: Network, alias: str, prediction: int) -> StackContainer:
    body = json.dumps({"prediction": prediction, "model_version": alias})
    container = (StackContainer(image, name=f"drill-{run_id}-{alias}").with_network(network).with_network_aliases(alias)
                 .with_env("UPSTREAM", "nowhere:1").with_env("FAULT_KIND", "error").with_env("FAULT_STATUS", "200")
                 .with_env("FAULT_BODY", body)
                 .with_kwargs(entrypoint=["python3", "-u", "/opt/drill/fault_proxy.py"],
                              labels=run_labels(run_id, f"model-{alias}"), **hardening("64m", 64))
                 .waiting_for(LogMessageWaitStrategy("fault proxy: ").with_startup_timeout(30).with_poll_interval(0.1)))
    container.start()
    return container


@pytest.fixture
def stack(docker_client: object) -> Iterator[tuple[str, str, Network, Network]]:
    images = ensure_images(docker_client, lambda _m: None)  # type: ignore[arg-type]
    run_id = f"test-tee-{secrets.token_hex(3)}"
    network = Network(docker_network_kw={"labels": run_labels(run_id, "network"), "internal": True})
    edge = Network(docker_network_kw={"labels": run_labels(run_id, "edge-network")})
    network.create()
    edge.create()
    yield run_id, images.model, network, edge
    for c in docker_client.containers.list(all=True, filters={"label": f"io.drill.run-id={run_id}"}):  # type: ignore[attr-defined]
        c.remove(force=True)
    network.remove()
    edge.remove()
    assert harness_resources(docker_client, run_id) == ([], [], [])


def send(endpoint: Endpoint, examples: Sequence[Example]) -> list[int]:
    conn = http.client.HTTPConnection(endpoint.host, endpoint.port, timeout=10)
    predictions = []
    for ex in examples:
        conn.request("POST", "/v1/predict", ex.body, {"Content-Type": "application/json"})
        resp = conn.getresponse()
        assert resp.status == 200
        predictions.append(json.loads(resp.read())["prediction"])
    conn.close()
    return predictions


def records(reader: TeeReader, n: int) -> list[paired.PairedRecord]:
    got: list[paired.PairedRecord] = []
    deadline = time.monotonic() + 20
    while len(got) < n and time.monotonic() < deadline:
        got.extend(reader.poll())
        time.sleep(0.1)
    return got


def test_the_tee_container_pairs_answers_and_survives_a_crashed_candidate(stack: tuple[str, str, Network, Network]) -> None:
    run_id, image, network, edge = stack
    servers = {alias: fixed_server(image, run_id, network, alias, p)
               for alias, p in (("stable", 0), ("secondary", 0), ("candidate", 1))}
    tee = TeeContainer(run_id, network, edge, image)
    env = tee_env(Endpoint("stable", 8080), Endpoint("candidate", 8080), Endpoint("secondary", 8080), "/v1/predict",
                  copy_timeout=1.0)
    _, records_at = tee.start(env, publish_client_port=True)
    assert records_at.host == "127.0.0.1"
    examples = Protocol().examples(50, 0)
    reader = TeeReader(records_at, Protocol(), examples_by_digest(examples))
    try:
        assert send(tee.client_endpoint(), examples) == [0] * 50  # every client answer is the stable's
        got = records(reader, 50)
        assert len(got) == 50 and reader.mirrored == 50
        judge = paired.PairedJudge(0.01, measures=("error", "incorrect"))
        judge.extend(got)
        assert judge.counts["incorrect"].worse == 50 and judge.look()[1].rejected
        stop(servers.pop("candidate"), timeout=1)  # the candidate crashes
        assert send(tee.client_endpoint(), examples[:30]) == [0] * 30
        after = records(reader, 30)
        assert len(after) == 30 and all(r.candidate is not None and r.candidate.status == 0 for r in after)
    finally:
        tee.stop()
        for c in servers.values():
            stop(c, timeout=1)
