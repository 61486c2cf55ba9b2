"""Protocol details of real inference servers in an image target: a metrics port apart from the serving port
(MLServer 8082, Triton 8002) and a predict path per version (``/v2/models/{name}/versions/{v}/infer``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.errors import SpecError
from harness.spec import catalogue
from harness.stack.services import prometheus_config
from harness.targets.image.protocol import JsonlProtocol
from harness.targets.image.spec import ImageTargetSpec

RUNBOOK = "name: rb\nsteps:\n  - {name: announce, action: notify, params: {message: hi}}\n"
TARGET = """target:
  kind: image
  port: 8080
  request: {source: ../requests.jsonl}
  versions:
    "1": {image: "team/oip:1"}
    "2": {image: "team/oip:2"}
  stable: "1"
  candidate: "2"
"""


def drill_with(tmp_path: Path, extra: str, target: str = TARGET) -> Path:
    for folder in ("drills", "runbooks"):
        (tmp_path / folder).mkdir(parents=True)
    (tmp_path / "runbooks" / "rb.yaml").write_text(RUNBOOK)
    (tmp_path / "requests.jsonl").write_text('{"body": {"inputs": []}}\n')
    drill = tmp_path / "drills" / "d.yaml"
    drill.write_text("name: d\nroot_cause: other\nrunbook: rb\nfault: {kind: none}\n"
                     "detection: {compare: [{name: c, measure: error}]}\n"
                     + target.replace("  port: 8080\n", f"  port: 8080\n{extra}"))
    return drill


def load_target(tmp_path: Path, extra: str, target: str = TARGET) -> ImageTargetSpec:
    spec = catalogue.load_drill(str(drill_with(tmp_path, extra, target))).spec.target
    assert isinstance(spec, ImageTargetSpec)
    return spec


def scraped(config: str) -> dict[str, tuple[str, list[str]]]:
    jobs = json.loads(config)["scrape_configs"]
    return {j["job_name"]: (j.get("metrics_path", "/metrics"), [t for c in j["static_configs"] for t in c["targets"]])
            for j in jobs}


# ---- the metrics port -----------------------------------------------------------------------------
def test_a_metrics_port_is_scraped_instead_of_the_serving_port(tmp_path: Path) -> None:
    spec = load_target(tmp_path, "  metrics_port: 8082\n")
    assert (spec.metrics_port, spec.metrics_path, spec.scrape_port) == (8082, "/metrics", 8082)
    assert scraped(prometheus_config(spec.scrape_port, spec.metrics_path))["model"] == ("/metrics", ["stable:8082", "candidate:8082"])


def test_without_a_metrics_port_the_serving_port_is_scraped(tmp_path: Path) -> None:
    spec = load_target(tmp_path, "  metrics_path: /stats\n")
    assert spec.scrape_port == 8080
    assert scraped(prometheus_config(spec.scrape_port, spec.metrics_path))["model"] == ("/stats", ["stable:8080", "candidate:8080"])
    assert "model" not in scraped(prometheus_config(8080, load_target(tmp_path / "b", "").metrics_path))


# ---- a predict path per version -------------------------------------------------------------------
def test_version_in_the_path_is_filled_per_version_and_clients_send_the_stables(tmp_path: Path) -> None:
    spec = load_target(tmp_path, "  predict_path: /v2/models/fraud/versions/${version}/infer\n")
    assert spec.path_for("1") == "/v2/models/fraud/versions/1/infer"
    assert spec.path_for("2") == "/v2/models/fraud/versions/2/infer"
    assert spec.routed_path == "/v2/models/fraud/versions/1/infer"
    assert JsonlProtocol(spec).path == spec.routed_path  # the load sends the stable version's path


def test_a_version_may_name_its_own_path(tmp_path: Path) -> None:
    target = TARGET.replace('"2": {image: "team/oip:2"}',
                            '"2": {image: "team/oip:2", predict_path: /v2/models/fraud/versions/2024-11/infer}')
    spec = load_target(tmp_path, "  predict_path: /v2/models/fraud/infer\n", target)
    assert (spec.path_for("1"), spec.path_for("2")) == ("/v2/models/fraud/infer", "/v2/models/fraud/versions/2024-11/infer")
    assert spec.routed_path == "/v2/models/fraud/infer"


@pytest.mark.parametrize(("extra", "target_change", "field", "message"), [
    ("  predict_path: /v2/models/${model}/infer\n", None, "target.predict_path", "${model}"),
    ("  predict_path: /v2/models/m/versions/${version/infer\n", None, "target.predict_path", "unclosed"),
    ("  metrics_port: 0\n", None, "target.metrics_port", "greater than or equal to 1"),
    ("  metrics_port: 70000\n", None, "target.metrics_port", "less than or equal to 65535"),
    ("", ('"2": {image: "team/oip:2"}', '"2": {image: "team/oip:2", predict_path: infer}'),
     "target.versions.2.predict_path", "absolute URL path"),
    ("", ('"2": {image: "team/oip:2"}', '"2": {image: "team/oip:2", predict_path: "/v/${version}"}'),
     "target.versions.2.predict_path", "absolute URL path"),
])
def test_bad_paths_and_ports_are_named_at_load(tmp_path: Path, extra: str, target_change: tuple[str, str] | None,
                                              field: str, message: str) -> None:
    target = TARGET.replace(*target_change) if target_change else TARGET
    drill = drill_with(tmp_path, extra, target)
    with pytest.raises(SpecError) as exc:
        catalogue.load_drill(str(drill))
    by_field = {i.field: i for i in exc.value.issues}
    assert field in by_field, by_field
    assert message in by_field[field].message and by_field[field].file == str(drill)
