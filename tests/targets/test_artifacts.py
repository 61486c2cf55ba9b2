"""Big model artifacts: the model server reads and verifies a version's weights before it serves, and a
truncated, corrupt or missing weights file fails the load with a message naming the version and the file.
Also the fault that starts late (``after``). In process, no Docker."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Literal

import pytest
from pydantic import Field

from harness.serving import model_server
from harness.spec.models import DrillSpec, FaultSpec
from harness.spec.types import TargetBlock
from harness.targets.builtin.registry import Registry
from harness.targets.builtin.seed import seed_registry
from harness.targets.builtin.weights import WEIGHTS_FILE
from harness.targets.registry import TARGETS, TargetKind

SIZE = 3 * (1 << 20) + 12345  # not a whole number of MiB: the last block is cut


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    reg = Registry(tmp_path / "registry", "fraud")
    seed_registry(reg, FaultSpec(kind="error_slice", feature="x0", above=0.52, after=30))
    for i, version in enumerate(reg.versions()):
        path = reg.dir / "versions" / version / WEIGHTS_FILE
        digest = model_server.write_blob(str(path), SIZE, i + 1)
        reg.set_blob(version, WEIGHTS_FILE, SIZE, digest)
    return reg


def _weights(reg: Registry, version: str) -> Path:
    return reg.dir / "versions" / version / WEIGHTS_FILE


def test_weights_are_written_seeded_and_every_mib_differs(registry: Registry) -> None:
    raw = _weights(registry, "v2").read_bytes()
    assert len(raw) == SIZE and hashlib.sha256(raw).hexdigest() == registry.meta("v2")["blob"]["sha256"]
    mib = 1 << 20
    assert raw[:mib] != raw[mib:2 * mib] and raw[8:mib] == raw[mib + 8:2 * mib]  # the index leads each MiB
    assert _weights(registry, "v1").read_bytes()[:mib] != raw[:mib]  # each version its own seed


def test_a_verified_artifact_loads(registry: Registry, capsys: pytest.CaptureFixture[str]) -> None:
    model = model_server.load_model(str(registry.root), "fraud", "champion")
    assert model["version"] == "v2"
    assert "weights.bin: 3 MB verified in" in capsys.readouterr().out


def test_a_truncated_artifact_fails_the_load_clearly(registry: Registry) -> None:
    path = _weights(registry, "v2")
    path.write_bytes(path.read_bytes()[: SIZE - 1000])
    with pytest.raises(model_server.ModelLoadError,
                       match=r"artifact for fraud/v2 truncated: weights.bin has 3,157,073 bytes, the registry says 3,158,073"):
        model_server.load_model(str(registry.root), "fraud", "v2")


def test_a_corrupt_artifact_of_the_right_size_fails_the_load_clearly(registry: Registry) -> None:
    path = _weights(registry, "v2")
    raw = bytearray(path.read_bytes())
    raw[SIZE // 2] ^= 0xFF  # one flipped byte in the middle
    path.write_bytes(bytes(raw))
    with pytest.raises(model_server.ModelLoadError, match=r"artifact for fraud/v2 corrupt: weights.bin sha256 "):
        model_server.load_model(str(registry.root), "fraud", "v2")


def test_a_missing_artifact_fails_the_load_clearly(registry: Registry) -> None:
    _weights(registry, "v1").unlink()
    with pytest.raises(model_server.ModelLoadError, match=r"artifact for fraud/v1 unreadable: weights.bin"):
        model_server.load_model(str(registry.root), "fraud", "v1")


def test_the_server_exits_1_naming_the_problem(registry: Registry, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    path = _weights(registry, "v2")
    path.write_bytes(path.read_bytes()[:100])
    monkeypatch.setenv("REGISTRY_DIR", str(registry.root))
    monkeypatch.setenv("MODEL_NAME", "fraud")
    monkeypatch.setenv("MODEL_REF", "champion")
    assert model_server.main([]) == 1
    assert "FATAL: artifact for fraud/v2 truncated" in capsys.readouterr().err


def test_a_late_fault_strikes_only_after_its_delay(registry: Registry) -> None:
    model = model_server.load_model(str(registry.root), "fraud", "v3")
    features = {"x0": 2.0, "x1": 0.0, "x2": 0.0, "x3": 0.0}  # in the failing slice
    assert model_server.predict(model, features)[0] == 200  # 30 s after the load: not yet
    model["fault_from"] = time.monotonic() - 0.001
    assert model_server.predict(model, features)[0] == 500


class SteadySpec(TargetBlock):
    kind: Literal["steady"] = Field(default="steady", description="a test's target kind")


def test_after_is_refused_where_it_cannot_apply() -> None:
    with pytest.raises(ValueError, match="crash takes no after"):
        FaultSpec(kind="crash", after=5)
    with pytest.raises(ValueError):
        FaultSpec(kind="latency", ms=100, after=0)
    # a plugin's kind whose model makes the fault but cannot start it late
    steady = TargetKind(kind="steady", spec=SteadySpec, factory=lambda *a: None, faults=frozenset({"none", "wrong_answers"}))
    with TARGETS.added(steady), pytest.raises(ValueError, match="target kinds builtin, mlflow, not 'steady'"):
        DrillSpec.model_validate({"name": "d", "root_cause": "performance", "runbook": "r",
                                  "fault": {"kind": "wrong_answers", "after": "5s"},
                                  "target": {"kind": "steady"},
                                  "detection": {"compare": [{"name": "c", "measure": "incorrect"}]}})


def test_artifact_size_reads_units() -> None:
    base = {"name": "d", "root_cause": "performance", "runbook": "r", "fault": {"kind": "wrong_answers"},
            "detection": {"compare": [{"name": "c", "measure": "incorrect"}]}}
    spec = DrillSpec.model_validate({**base, "target": {"kind": "builtin", "artifact_size": "200MB"}})
    assert int(getattr(spec.target, "artifact_size", 0)) == 200_000_000
    with pytest.raises(ValueError):
        DrillSpec.model_validate({**base, "target": {"kind": "builtin", "artifact_size": "20GB"}})
    # the MLflow target takes the same field, with the same limits
    spec = DrillSpec.model_validate({**base, "target": {"kind": "mlflow", "artifact_size": "2GiB"}})
    assert int(getattr(spec.target, "artifact_size", 0)) == 2 << 30
    for bad in ("20GB", "-1", "lots"):
        with pytest.raises(ValueError, match="artifact_size"):
            DrillSpec.model_validate({**base, "target": {"kind": "mlflow", "artifact_size": bad}})
