"""The MLflow registry adapter against a real MLflow (the client's file store in tmp_path; no mocks)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import need_mlflow

mlflow = need_mlflow()

from harness.ports import RollbackEvent  # noqa: E402
from harness.targets.builtin.registry import RegistryError  # noqa: E402
from harness.targets.mlflow.models import CHECKSUM_TAG, seed_versions  # noqa: E402
from harness.targets.mlflow.registry import MlflowRegistry  # noqa: E402

FAULT = {"kind": "error_slice", "feature": "x0", "above": 0.52}


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One seeded tracking store for the module (logging models takes seconds); tests copy it."""
    root = tmp_path_factory.mktemp("mlflow-seed")
    seed_versions(MlflowRegistry(f"file://{root}/mlruns", "fraud", run_id="seed-run"), FAULT)
    return root


@pytest.fixture
def registry(seeded: Path, tmp_path: Path) -> MlflowRegistry:
    import shutil

    shutil.copytree(seeded / "mlruns", tmp_path / "mlruns")
    # The file store records absolute artifact locations; point them at the copy.
    for meta in (tmp_path / "mlruns").rglob("meta.yaml"):
        meta.write_text(meta.read_text().replace(str(seeded), str(tmp_path)))
    return MlflowRegistry(f"file://{tmp_path}/mlruns", "fraud", run_id="run-1")


def test_seed_registers_three_real_versions_with_aliases(registry: MlflowRegistry) -> None:
    assert registry.versions() == ["1", "2", "3"]
    assert registry.aliases() == {"champion": "2", "previous": "1"}
    assert registry.resolve("champion") == "2"
    tags = registry.version_tags("3")
    assert tags["drill.fault"] == "error_slice"
    assert "MLmodel" in json.loads(tags[CHECKSUM_TAG])
    for version in ("1", "2", "3"):
        registry.check_deployable(version)


def test_versions_serve_through_pyfunc_and_the_bad_one_fails_its_slice(registry: MlflowRegistry) -> None:
    import pandas as pd

    good = mlflow.pyfunc.load_model(registry.client.get_model_version("fraud", "2").source)
    bad = mlflow.pyfunc.load_model(registry.client.get_model_version("fraud", "3").source)
    frame = pd.DataFrame([{"x0": 0.1, "x1": -0.5, "x2": 0.0, "x3": 0.3}])
    assert good.predict(frame).shape == (1, 2)
    assert bad.predict(frame).shape == (1, 2)
    with pytest.raises(Exception, match="internal model error"):
        bad.predict(frame.assign(x0=1.0))


def test_promote_then_restore_previous_walks_the_history(registry: MlflowRegistry) -> None:
    registry.promote("3", "deploy by drill")
    assert registry.aliases() == {"champion": "3", "previous": "2"}
    assert registry.restore_previous("rollback") == "2"
    # v3 was rolled back: it is never "previous"; the one before v2 is.
    assert registry.aliases() == {"champion": "2", "previous": "1"}
    moves = [(m["alias"], m["from"], m["to"], m["kind"]) for m in registry.history()]
    assert moves[-3:] == [("champion", "2", "3", "deploy"), ("champion", "3", "2", "rollback"),
                          ("previous", "2", "1", "move")]
    assert registry.history()[-1]["run_id"] == "run-1"
    assert registry.version_tags("3")["deployed_at"].endswith("Z")


def test_restore_refuses_a_corrupt_previous_and_names_version_and_file(registry: MlflowRegistry) -> None:
    registry.promote("3", "deploy")
    source = registry.client.get_model_version("fraud", "2").source
    pickle = Path(source.removeprefix("file://")) / "model.pkl"
    pickle.write_bytes(pickle.read_bytes()[:-20] + b"garbage-bytes-here!!")
    with pytest.raises(RegistryError, match=r"fraud version 2 .*model\.pkl corrupt"):
        registry.restore_previous("rollback")
    assert registry.aliases()["champion"] == "3"  # nothing moved


def test_missing_artifact_is_named(registry: MlflowRegistry) -> None:
    source = registry.client.get_model_version("fraud", "1").source
    (Path(source.removeprefix("file://")) / "MLmodel").unlink()
    with pytest.raises(RegistryError, match=r"fraud version 1 .*MLmodel missing"):
        registry.check_deployable("1")


def test_unknown_version_and_alias_become_registry_errors(registry: MlflowRegistry) -> None:
    with pytest.raises(RegistryError, match="no version '9'"):
        registry.set_alias("champion", "9", "x")
    with pytest.raises(RegistryError, match="resolve alias 'nosuch'"):
        registry.resolve("nosuch")
    with pytest.raises(RegistryError, match="read version 9"):
        registry.check_deployable("9")


def test_record_rollback_tags_the_version(registry: MlflowRegistry) -> None:
    decided = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    registry.record_rollback(RollbackEvent("run-1", "3", "2", decided, decided + timedelta(seconds=4),
                                           "automated", "performance"))
    tags: dict[str, Any] = registry.version_tags("3")
    assert {k: v for k, v in tags.items() if k.startswith("rollback.")} == {
        "rollback.to_version": "2", "rollback.root_cause": "performance", "rollback.trigger": "automated",
        "rollback.decided_at": "2026-03-01T12:00:00Z", "rollback.completed_at": "2026-03-01T12:00:04Z",
        "rollback.drill_run_id": "run-1"}


def test_unreachable_server_is_a_registry_error() -> None:
    registry = MlflowRegistry("http://127.0.0.1:9", "fraud")
    with pytest.raises(RegistryError, match="MLflow fraud"):
        registry.aliases()


@pytest.mark.parametrize("fault", [
    {"kind": "wrong_answers"},
    {"kind": "out_of_range", "scale": 3.0},
    {"kind": "latency", "ms": 50.0},
    {"kind": "crash", "message": "bad build"},
])
def test_each_fault_is_a_real_pyfunc_behaviour(tmp_path: Path, fault: dict[str, Any]) -> None:
    import time

    import pandas as pd

    from harness.targets.mlflow.models import log_version

    registry = MlflowRegistry(f"file://{tmp_path}/mlruns", "fraud")
    good = log_version(registry.client, "fraud", seed=2)
    bad = log_version(registry.client, "fraud", seed=3, fault=fault)
    assert bad.fault == fault["kind"] and good.fault is None
    frame = pd.DataFrame([{"x0": 0.4, "x1": -0.5, "x2": 0.1, "x3": 0.3}] * 3)
    good_model = mlflow.pyfunc.load_model(registry.client.get_model_version("fraud", good.version).source)
    if fault["kind"] == "crash":
        with pytest.raises(RegistryError, match=r"fraud version 2 .*does not load: ModelFault: bad build"):
            registry.check_deployable(bad.version)
        return
    bad_model = mlflow.pyfunc.load_model(registry.client.get_model_version("fraud", bad.version).source)
    expected = good_model.predict(frame)
    started = time.perf_counter()
    answer = bad_model.predict(frame)
    took = time.perf_counter() - started
    if fault["kind"] == "wrong_answers":
        assert ((answer[:, 1] >= 0.5) != (expected[:, 1] >= 0.5)).all()
    elif fault["kind"] == "out_of_range":
        assert (answer[:, 1] > 1.0).any()
    else:
        assert took >= 0.05
