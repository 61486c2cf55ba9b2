"""docs/kubernetes.md stays true: every YAML block parses, every manifest has the fields its kind requires, and
every seam of harness/ports.py is mapped. No cluster: these are the manifests a Kubernetes backend would apply."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from harness import ports
from tests.conftest import ROOT

DOC = ROOT / "docs" / "kubernetes.md"
KNOWN = {
    ("v1", "Namespace"), ("v1", "Service"), ("apps/v1", "Deployment"),
    ("gateway.networking.k8s.io/v1", "HTTPRoute"), ("argoproj.io/v1alpha1", "Rollout"),
    ("argoproj.io/v1alpha1", "AnalysisTemplate"), ("serving.kserve.io/v1beta1", "InferenceService"),
}
SEAMS = ("Backend", "RollingBackend", "Router", "ModelRegistry", "ServingProtocol", "Fault", "MetricsSource", "Target")


def yaml_blocks(text: str) -> list[str]:
    return re.findall(r"^```yaml\n(.*?)^```", text, flags=re.S | re.M)


def manifests() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for block in yaml_blocks(DOC.read_text(encoding="utf-8")):
        docs.extend(d for d in yaml.safe_load_all(block) if d is not None)
    return docs


def _get(doc: dict[str, Any], dotted: str) -> Any:
    node: Any = doc
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            raise AssertionError(f"{doc.get('kind')} {doc.get('metadata', {}).get('name')}: missing {dotted}")
        node = node[part]
    return node


def _containers(pod_spec: dict[str, Any], where: str) -> None:
    containers = pod_spec.get("containers")
    assert isinstance(containers, list) and containers, f"{where}: no containers"
    for c in containers:
        assert c.get("name") and c.get("image"), f"{where}: a container needs name and image"


def check(doc: dict[str, Any]) -> None:
    """The fields the API server would reject a manifest without (and a few this harness relies on)."""
    kind, where = doc.get("kind"), f"{doc.get('kind')} {doc.get('metadata', {}).get('name')}"
    assert (doc.get("apiVersion"), kind) in KNOWN, f"unknown apiVersion/kind {doc.get('apiVersion')}/{kind}"
    assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", str(_get(doc, "metadata.name"))), f"{where}: bad name"
    labels = _get(doc, "metadata.labels")
    assert labels.get("io.drill.harness") == "true" and labels.get("io.drill.run-id"), f"{where}: unlabelled"
    if kind == "Deployment" or kind == "Rollout":
        selector = _get(doc, "spec.selector.matchLabels")
        template_labels = _get(doc, "spec.template.metadata.labels")
        assert selector.items() <= template_labels.items(), f"{where}: selector does not match the pod template"
        _containers(_get(doc, "spec.template.spec"), where)
        assert isinstance(_get(doc, "spec.replicas"), int)
    if kind == "Deployment":
        slot = _get(doc, "spec.template.metadata.labels").get("slot")
        assert _get(doc, "spec.replicas") >= (2 if slot == "stable" else 1), f"{where}: below the replica floor"
        assert _get(doc, "spec.strategy.rollingUpdate.maxUnavailable") == 0, f"{where}: must start new pods first"
        for c in _get(doc, "spec.template.spec.containers"):
            assert c["readinessProbe"]["httpGet"]["path"] == "/healthz", f"{where}: readiness is the model's /healthz"
    if kind == "Service":
        assert _get(doc, "spec.selector") and _get(doc, "spec.ports")
    if kind == "HTTPRoute":
        assert _get(doc, "spec.parentRefs")
        for rule in _get(doc, "spec.rules"):
            weights = [ref["weight"] for ref in rule["backendRefs"]]
            assert all(isinstance(w, int) and w >= 0 for w in weights) and sum(weights) == 100, where
    if kind == "Rollout":
        steps = _get(doc, "spec.strategy.canary.steps")
        assert any("setWeight" in s for s in steps), f"{where}: a canary without a weight step"
    if kind == "AnalysisTemplate":
        for metric in _get(doc, "spec.metrics"):
            assert metric["name"] and metric["provider"]["prometheus"]["query"]
            assert "failureCondition" in metric or "successCondition" in metric, f"{where}: nothing to judge"
    if kind == "InferenceService":
        predictor = _get(doc, "spec.predictor")
        assert 0 <= predictor["canaryTrafficPercent"] <= 100
        assert predictor.get("model", {}).get("storageUri") or predictor.get("containers"), f"{where}: no model"


def test_every_manifest_in_the_kubernetes_doc_is_valid() -> None:
    docs = manifests()
    assert {(d["apiVersion"], d["kind"]) for d in docs} == KNOWN, "each kind the doc names has a manifest"
    for doc in docs:
        check(doc)
    names = {d["metadata"]["name"] for d in docs if d["kind"] == "Service"}
    for route in (d for d in docs if d["kind"] == "HTTPRoute"):  # a route sends traffic only to Services shown
        assert {ref["name"] for rule in route["spec"]["rules"] for ref in rule["backendRefs"]} <= names


def test_every_seam_is_mapped() -> None:
    text = DOC.read_text(encoding="utf-8")
    for seam in SEAMS:
        assert hasattr(ports, seam), f"ports.py has no {seam} any more: update the doc"
        assert f"`{seam}" in text, f"docs/kubernetes.md does not map {seam}"


@pytest.mark.parametrize(("broken", "message"), [
    ({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x", "labels": {"io.drill.harness": "true", "io.drill.run-id": "r"}},
      "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "a"}}, "template": {"metadata": {"labels": {"app": "b"}},
                                                                                        "spec": {"containers": [{"name": "m", "image": "i"}]}}}},
     "selector"),
    ({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
      "metadata": {"name": "r", "labels": {"io.drill.harness": "true", "io.drill.run-id": "r"}},
      "spec": {"parentRefs": [{"name": "g"}], "rules": [{"backendRefs": [{"name": "s", "weight": 90}, {"name": "c", "weight": 20}]}]}},
     "HTTPRoute"),
    ({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "labels": {}}}, "unlabelled"),
    ({"apiVersion": "apps/v2", "kind": "Deployment", "metadata": {"name": "s"}}, "unknown"),
])
def test_the_checks_catch_broken_manifests(broken: dict[str, Any], message: str) -> None:
    with pytest.raises(AssertionError, match=message):
        check(broken)
