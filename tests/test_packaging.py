"""Packaging and the newcomer's first commands: the wheel ships the catalogue, --version, actions, faults."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness import __version__
from harness.authoring.describe import action_docs, fault_docs
from harness.cli.main import app
from harness.exit_codes import ExitStatus
from harness.spec.models import FAULT_KINDS, FaultSpec
from harness.stack.bootstrap import BootstrapProgress

ROOT = Path(__file__).resolve().parent.parent
RUNNER = CliRunner()


@pytest.mark.timeout(300)
def test_the_wheel_ships_drills_runbooks_and_serving_files(tmp_path: Path) -> None:
    src = tmp_path / "src"
    shutil.copytree(ROOT / "harness", src / "harness", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    out = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                          "-w", str(tmp_path / "dist"), str(src)], capture_output=True, text=True, timeout=280)
    assert out.returncode == 0, out.stderr
    wheel, = (tmp_path / "dist").glob("drill_harness-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {p.relative_to(ROOT).as_posix() for pattern in ("drills/*.yaml", "runbooks/*.yaml")
               for p in (ROOT / "harness" / "data").glob(pattern)}
    # Every catalogue drill (the branches of the catalogue keep adding them), and at least the fifteen of 1 December.
    assert len([n for n in shipped if "/drills/" in n]) >= 15
    assert shipped <= names, shipped - names
    assert {"harness/serving/model_server.py", "harness/serving/tee_proxy.py", "harness/serving/haproxy.cfg", "harness/serving/haproxy-swarm.cfg",
            "harness/serving/prometheus.yml", "harness/py.typed", "harness/targets/mlflow/scoring_server.py",
            "harness/targets/mlflow/drill_faulty_model.py", "harness/traffic/sender.py"} <= names
    assert not any(n.endswith(".whl") for n in names)


def test_version() -> None:
    result = RUNNER.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout.strip() == f"drill {__version__}"


def test_actions_lists_every_action_with_types_and_defaults_from_the_models() -> None:
    docs = {d.name: d for d in action_docs()}
    assert {"router.drain", "shell", "verify.http", "wait", "notify"} <= set(docs)
    drain = {p.name: p for p in docs["router.drain"].params}
    assert (drain["server"].required, drain["settle"].type, drain["settle"].default) == (True, "duration", "5s")
    weight = {p.name: p for p in docs["router.set_weight"].params}["weight"]
    assert weight.type == "int" and weight.limits == "0 ≤ x ≤ 256"
    out = RUNNER.invoke(app, ["actions"])
    assert out.exit_code == 0
    for name in docs:
        assert name in out.stdout
    one = RUNNER.invoke(app, ["actions", "verify.http"])
    assert "expect_version" in one.stdout and "router.drain" not in one.stdout
    assert RUNNER.invoke(app, ["actions", "verify.htp"]).exit_code == ExitStatus.BAD_INPUT


def test_faults_are_documented_and_enforced_the_same_way() -> None:
    docs = {d.kind: d for d in fault_docs()}
    assert set(docs) == set(FAULT_KINDS) == set(FaultSpec.model_fields["kind"].annotation.__args__)  # type: ignore[union-attr]
    assert [(p.name, p.required) for p in docs["error_slice"].params] == [("feature", True), ("above", True)]
    out = RUNNER.invoke(app, ["faults"])
    assert out.exit_code == 0 and all(kind in out.stdout for kind in FAULT_KINDS)
    with pytest.raises(ValueError, match="needs feature, above"):
        FaultSpec.model_validate({"kind": "error_slice"})
    with pytest.raises(ValueError, match="takes no ms"):
        FaultSpec.model_validate({"kind": "wrong_answers", "ms": 5})


def test_image_bootstrap_prints_a_few_status_lines_not_one_per_package() -> None:
    seen: list[str] = []
    status = BootstrapProgress(seen.append, "debootstrap")
    for phase in ("Retrieving", "Validating", "Unpacking", "Configuring", "Unpacking", "Configuring"):
        for i in range(300):
            status.line(f"I: {phase} pkg{i} 1.0")
    status.line("I: Base system installed successfully.")
    assert seen == ["debootstrap 1/3: downloading packages", "debootstrap 3/3: configuring packages"]


def test_read_only_commands_never_create_a_store(tmp_path: Path) -> None:
    store = tmp_path / "nowhere" / "drill.db"
    for args in (["metrics"], ["export"], ["report", "-o", str(tmp_path / "r")]):
        result = RUNNER.invoke(app, [*args, "--store", str(store)])
        assert result.exit_code == ExitStatus.ENVIRONMENT, result.output
        assert "no store at" in result.output
    assert not store.parent.exists()
