"""`drill import --from mlflow`: alias moves and rollback tags of a real MLflow registry (file store) into the store."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from tests.conftest import need_mlflow

mlflow = need_mlflow()

from harness.cli.main import app  # noqa: E402
from harness.ports import RollbackEvent  # noqa: E402
from harness.store import Store  # noqa: E402
from harness.targets.mlflow.models import log_version  # noqa: E402
from harness.targets.mlflow.registry import MlflowRegistry  # noqa: E402

RUNNER = CliRunner()
T0 = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)


def ticking(start: datetime) -> Iterator[datetime]:
    at = start
    while True:
        yield at
        at += timedelta(minutes=10)


@pytest.fixture(scope="module")
def tracking_uri(tmp_path_factory: pytest.TempPathFactory) -> str:
    """fraud: v1, v2, v3 deployed in turn by the adapter, v3 rolled back to v2 and tagged; a team's
    model 'churn' tagged by hand (deployed_at on two versions, one rollback)."""
    uri = f"file://{tmp_path_factory.mktemp('mlflow-import')}/mlruns"
    clock = ticking(T0)
    fraud = MlflowRegistry(uri, "fraud", clock=lambda: next(clock))
    for seed in (1, 2, 3):
        fraud.promote(log_version(fraud.client, "fraud", seed).version, "deploy")
    fraud.restore_previous("rollback")
    fraud.record_rollback(RollbackEvent("", "3", "2", T0 + timedelta(hours=1),
                                        T0 + timedelta(hours=1, minutes=6), "automated", "performance"))
    client = fraud.client
    client.create_registered_model("churn")
    for n in ("1", "2"):
        client.create_model_version("churn", f"{uri}/nowhere/{n}", tags={"deployed_at": f"2026-10-0{n}T08:00:00+02:00"})
    for key, value in {"decided_at": "2026-10-02T10:00:00Z", "completed_at": "2026-10-02T10:20:00Z",
                       "to_version": "1", "trigger": "manual", "root_cause": "upstream-data",
                       "rca_url": "https://wiki/rca/7"}.items():
        client.set_model_version_tag("churn", "2", f"rollback.{key}", value)
    return uri


def invoke(*args: str) -> Result:
    return RUNNER.invoke(app, list(args))


def test_import_feeds_metrics_and_is_idempotent(tracking_uri: str, tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path}/drill.db"
    first = invoke("import", "--from", "mlflow", "--tracking-uri", tracking_uri, "--store", store)
    assert first.exit_code == 0, first.output
    assert "7 new, 0 already present (5 deployments, 2 rollbacks)" in first.stdout
    again = invoke("import", "--from", "mlflow", "--tracking-uri", tracking_uri, "--store", store)
    assert "0 new, 7 already present" in again.stdout
    shown = invoke("metrics", "--since", "2026-10-01", "--until", "2026-11-01", "--format", "json", "--store", store)
    figures = json.loads(shown.stdout)
    assert (figures["deployments"], figures["rollbacks"], figures["rollback_rate_pct"]) == (5, 2, 40.0)
    assert {k: n for k, n in figures["root_causes"].items() if n} == {"performance": 1, "upstream-data": 1}
    fraud = invoke("metrics", "--since", "2026-10-01", "--until", "2026-11-01", "--format", "json",
                   "--model", "fraud", "--store", store)
    assert json.loads(fraud.stdout)["mean_decision_to_completion_minutes"] == 6.0


def test_import_of_one_model(tracking_uri: str, tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path}/drill.db"
    r = invoke("import", "--from", "mlflow", "--tracking-uri", tracking_uri, "--model", "churn", "--store", store)
    assert "3 new, 0 already present (2 deployments, 1 rollbacks)" in r.stdout, r.output
    with Store.open(store) as st:
        rollback = next(e for e in st.export_events() if getattr(e, "from_version", None) == "2")
    assert rollback.rca_url == "https://wiki/rca/7"  # type: ignore[union-attr]
    missing = invoke("import", "--from", "mlflow", "--tracking-uri", tracking_uri, "--model", "nosuch", "--store", store)
    assert missing.exit_code == 2 and "no registered model 'nosuch'" in missing.output


def test_a_bad_tag_names_model_version_and_tag_and_writes_nothing(tracking_uri: str, tmp_path: Path) -> None:
    client = mlflow.MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    client.set_model_version_tag("churn", "1", "rollback.root_cause", "gremlins")
    try:
        store = f"sqlite:///{tmp_path}/drill.db"
        r = invoke("import", "--from", "mlflow", "--tracking-uri", tracking_uri, "--store", store)
        assert r.exit_code == 2
        assert "models:/churn/1: tag rollback.root_cause:" in r.output
        assert "tag rollback.decided_at" in r.output  # every problem at once
        with Store.open(store) as st:
            assert list(st.export_events()) == []
    finally:
        client.delete_model_version_tag("churn", "1", "rollback.root_cause")


def test_flags_are_checked_before_anything(tmp_path: Path) -> None:
    r = invoke("import", "--from", "mlflow", "--store", f"sqlite:///{tmp_path}/x.db")
    assert r.exit_code == 2 and "--tracking-uri" in r.output
    r = invoke("import", "--from", "mlflow", "--tracking-uri", "http://127.0.0.1:9", "--store", f"sqlite:///{tmp_path}/x.db")
    assert r.exit_code == 3 and "127.0.0.1:9" in r.output
    assert not (tmp_path / "x.db").exists()


def test_cause_keys_are_imported_and_release_notes_written_into_the_version(tracking_uri: str, tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = f"sqlite:///{tmp_path}/drill.db"
    client = mlflow.MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    client.set_model_version_tag("churn", "2", "rollback.cause_keys", "schema-drift:age, feature-store:lag")
    try:
        r = invoke("import", "--from", "mlflow", "--tracking-uri", tracking_uri, "--model", "churn", "--store", store)
        assert r.exit_code == 0, r.output
        with Store.open(store) as st:
            (rollback,) = st.list_rollbacks()
            assert set(rollback.cause_keys) == {"schema-drift:age", "feature-store:lag"}
        notes = invoke("release-notes", "--model", "churn", "--version", "2", "--mlflow-uri", tracking_uri, "--store", store)
        assert notes.exit_code == 0, notes.output
        description = client.get_model_version("churn", "2").description
        assert "## Rollback history: churn version 2" in description and "schema-drift:age" in description
    finally:
        client.delete_model_version_tag("churn", "2", "rollback.cause_keys")
