"""Shared fixtures. Docker tests (marker ``docker``) skip locally without an engine and FAIL under CI=true."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE = ROOT / "harness" / "data"  # the drills and runbooks shipped with the package


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def _docker_problem() -> str | None:
    try:
        import docker

        docker.from_env(timeout=10).ping()
    except Exception as exc:  # any failure to reach the engine means the same here
        return f"Docker engine unreachable: {exc}"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not any(item.get_closest_marker("docker") for item in items):
        return
    problem = _docker_problem()
    if problem is None:
        return
    for item in items:
        if item.get_closest_marker("docker"):
            if in_ci():
                item.add_marker(pytest.mark.usefixtures("_docker_required"))  # fails, never skips
            else:
                item.add_marker(pytest.mark.skip(reason=problem))


@pytest.fixture
def _docker_required() -> None:
    problem = _docker_problem()
    if problem:
        pytest.fail(f"{problem} (CI=true: Docker tests must run)")


@pytest.fixture
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A store and a report dir under tmp_path; the project's drills on the search path."""
    monkeypatch.setenv("DRILL_STORE", f"sqlite:///{tmp_path}/drill.db")
    monkeypatch.setenv("DRILL_PATH", str(ROOT))
    return tmp_path


@pytest.fixture
def docker_client() -> Iterator[object]:
    import docker

    client = docker.from_env(timeout=60)
    yield client
    client.close()


def harness_resources(client: object, run_id: str) -> tuple[list[object], list[object], list[object]]:
    """Everything labelled with this run's id that is still there (other runs may share the engine)."""
    selector = {"label": f"io.drill.run-id={run_id}"}
    return (client.containers.list(all=True, filters=selector),  # type: ignore[attr-defined]
            client.networks.list(filters=selector),  # type: ignore[attr-defined]
            client.volumes.list(filters=selector))  # type: ignore[attr-defined]


_docker_outcomes: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" and "docker" in report.keywords:
        _docker_outcomes.append(report.outcome)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # Under CI a run in which no Docker test actually ran is a failure, whatever else passed.
    selected_docker = any(item.get_closest_marker("docker") for item in session.items)
    if in_ci() and selected_docker and not _docker_outcomes:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        print("\nCI=true: no Docker test ran; failing the session", file=sys.stderr)


def need_mlflow() -> Any:
    """The mlflow module for tests of the MLflow target: skipped locally without the extra, but under CI=true
    a missing extra fails (install.sh installs it) rather than testing less in silence.

    The tests' own small registries are MLflow file stores (``file://.../mlruns``): MLflow 3 refuses those unless
    ``MLFLOW_ALLOW_FILE_STORE`` is set (it wants a database); a team's registry, and the drills', is a server."""
    os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    if in_ci():
        import mlflow

        return mlflow
    return pytest.importorskip("mlflow")
