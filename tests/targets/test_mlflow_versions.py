"""The MLflow versions drill works with: the client extra beside MLflow 3 or 2, the server started for either
(MLflow 3 with ``--allowed-hosts``, MLflow 2 under gunicorn).

The allowed hosts are checked with MLflow's own matcher (the function its host-validation middleware calls), so
a pattern MLflow would read differently fails here, not as a 403 in the middle of a drill."""

from __future__ import annotations

import importlib.util
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from tests.conftest import ROOT, need_mlflow

mlflow = need_mlflow()

from harness.targets.mlflow.stack import allowed_hosts, server_command  # noqa: E402


def _mlflow_matcher() -> Callable[[list[str], str], bool]:
    """``mlflow.server.security_utils.is_allowed_host_header`` from MLflow 3's own file; loaded by path because
    ``mlflow.server``'s package imports Flask, which the client-only extra (mlflow-skinny) does not carry."""
    path = Path(mlflow.__file__).parent / "server" / "security_utils.py"
    if not path.exists():
        pytest.skip(f"MLflow {mlflow.__version__} has no host validation (MLflow 3 does)")
    spec = importlib.util.spec_from_file_location("_mlflow_security_utils", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    matcher: Callable[[list[str], str], bool] = module.is_allowed_host_header
    return matcher


def _option(command: list[str], name: str) -> str | None:
    return command[command.index(name) + 1] if name in command else None


def test_mlflow_3_names_the_service_loopback_and_the_run_network() -> None:
    command = server_command("3.17.2", "sqlite:////mlflow/mlflow.db", "172.20.0.0/16", 90.0)
    hosts = _option(command, "--allowed-hosts")
    assert hosts is not None and _option(command, "--gunicorn-opts") is None  # MLflow 3 refuses the two together
    assert _option(command, "--workers") == "1"
    allowed = hosts.split(",")
    is_allowed_host_header = _mlflow_matcher()
    for host in ("mlflow:5000", "127.0.0.1:49153", "127.0.0.1:5000", "172.20.0.3:5000", "172.20.7.250:5000"):
        assert is_allowed_host_header(allowed, host), host
    for host in ("evil.example:5000", "172.21.0.3:5000", "172.20.0.3:6000", "mlflow:6000", "localhost.evil:80"):
        assert not is_allowed_host_header(allowed, host), host


@pytest.mark.parametrize(("subnet", "pattern"), [("172.20.0.0/16", "172.20.*:5000"), ("10.1.2.0/24", "10.1.2.*:5000"),
                                                 ("10.0.0.0/8", "10.*:5000"), ("192.168.0.0/20", "192.168.*:5000")])
def test_the_run_network_pattern_covers_the_subnet(subnet: str, pattern: str) -> None:
    assert allowed_hosts(subnet)[-1] == pattern


def test_mlflow_2_runs_under_gunicorn_without_the_option_it_lacks() -> None:
    command = server_command("2.22.5", "sqlite:////mlflow/mlflow.db", "172.20.0.0/16", 120.0)
    assert _option(command, "--allowed-hosts") is None
    assert _option(command, "--gunicorn-opts") == "--timeout 120" and _option(command, "--workers") == "2"


def test_the_mlflow_extra_installs_beside_mlflow_3_and_2() -> None:
    """``pip install 'drill-harness[mlflow]'`` next to a team's ``mlflow==3.17.2`` (which pins mlflow-skinny to its
    own version) or an MLflow 2 install; checked with pip's resolver too (docs/mlflow.md)."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    extra = [Requirement(r) for r in pyproject["project"]["optional-dependencies"]["mlflow"]]
    (skinny,) = [r for r in extra if r.name == "mlflow-skinny"]
    for version in ("3.17.2", "3.18.0", "2.22.5", "2.9.0"):
        assert skinny.specifier.contains(version), (version, str(skinny))
    assert not skinny.specifier.contains("2.8.1")
