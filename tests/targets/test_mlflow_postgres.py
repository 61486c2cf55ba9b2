"""The MLflow image with a PostgreSQL backend store (the CI's server), driven through the registry adapter.

The run network of a drill cannot reach the CI's PostgreSQL (it listens on the host's 127.0.0.1 only), so this
test starts the MLflow server from the drill image on the host's network, bound to 127.0.0.1, with a fresh
database; it is labelled like any run's container and removed at the end, with the database.
"""

from __future__ import annotations

import os
import socket
import time
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import need_mlflow

pytestmark = [pytest.mark.docker, pytest.mark.postgres]
mlflow = need_mlflow()

from harness.ports import RollbackEvent  # noqa: E402
from harness.stack.docker_api import connect, run_labels, sweep  # noqa: E402
from harness.targets.builtin.registry import RegistryError  # noqa: E402
from harness.targets.mlflow.image import ensure_image  # noqa: E402
from harness.targets.mlflow.models import seed_versions  # noqa: E402
from harness.targets.mlflow.registry import MlflowRegistry  # noqa: E402
from harness.targets.mlflow.target import sabotage_version  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def pg_database() -> Iterator[str]:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    base = os.environ.get("DRILL_TEST_PG_URL")
    if not base:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("DRILL_TEST_PG_URL is not set (CI=true: required)")
        pytest.skip("DRILL_TEST_PG_URL is not set; run: eval \"$(.ci/postgres.sh)\"")
    name = f"mlflow_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        # drivername postgresql: psycopg2, the driver in the image
        yield make_url(base).set(drivername="postgresql", database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_mlflow_on_postgresql_keeps_versions_aliases_and_rollback_tags(pg_database: str) -> None:
    client = connect()
    image = ensure_image(client, lambda m: None)
    run_id = f"test-mlflow-pg-{uuid.uuid4().hex[:6]}"
    port = _free_port()
    command = ["mlflow", "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
               "--backend-store-uri", pg_database, "--serve-artifacts", "--artifacts-destination", "/mlflow/artifacts"]
    try:
        volume = client.volumes.create(f"drill-{run_id}-mlflow", labels=run_labels(run_id, "mlflow-data"))
        client.containers.run(image.tag, entrypoint=command, detach=True, name=f"drill-{run_id}-mlflow",
                              network_mode="host", labels=run_labels(run_id, "mlflow"), user="65534:65534",
                              read_only=True, tmpfs={"/tmp": "rw,size=256m,mode=1777"},
                              volumes={volume.name: {"bind": "/mlflow", "mode": "rw"}},
                              cap_drop=["ALL"], security_opt=["no-new-privileges:true"], mem_limit="1g")
        uri = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{uri}/health", timeout=2).read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        registry = MlflowRegistry(uri, "fraud", run_id=run_id)
        seed_versions(registry, {"kind": "error_slice", "feature": "x0", "above": 0.52})
        registry.promote("3", "deploy")
        assert registry.restore_previous("rollback") == "2"
        decided = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
        registry.record_rollback(RollbackEvent(run_id, "3", "2", decided, decided + timedelta(seconds=3),
                                               "automated", "performance"))
        # Read back through MLflow's own client: the database behind the server is PostgreSQL.
        mlc = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
        assert dict(mlc.get_registered_model("fraud").aliases) == {"champion": "2", "previous": "1"}
        tags = mlc.get_model_version("fraud", "3").tags
        assert tags["rollback.to_version"] == "2" and tags["rollback.decided_at"] == "2026-11-01T12:00:00Z"
        # Both ways a drill breaks the way back, through the server's artifact API, are caught by name.
        sabotage_version(registry, "1", "missing-previous")
        with pytest.raises(RegistryError, match=r"fraud version 1 .*artifact file model\.pkl missing"):
            registry.check_deployable("1")
        sabotage_version(registry, "2", "corrupt-previous")
        with pytest.raises(RegistryError, match=r"fraud version 2 .*artifact file model\.pkl corrupt"):
            registry.check_deployable("2")
    except Exception:
        for container in client.containers.list(all=True, filters={"label": f"io.drill.run-id={run_id}"}):
            print(container.logs(tail=40).decode(errors="replace"))
        raise
    finally:
        swept = sweep(client, run_id)
        assert (swept.containers, swept.volumes) == (1, 1)
