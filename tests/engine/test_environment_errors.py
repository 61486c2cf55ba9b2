"""Environment failures exit 3 with a message that says what to do; nothing is written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import docker.errors
import pytest

from harness.errors import BackendUnavailable
from harness.stack import images
from tests.conftest import ROOT


def test_docker_unreachable_exits_3(tmp_path: Path) -> None:
    env = {**os.environ, "DOCKER_HOST": "tcp://127.0.0.1:9", "DRILL_PATH": str(ROOT),
           "DRILL_STORE": f"sqlite:///{tmp_path}/drill.db"}
    proc = subprocess.run([sys.executable, "-m", "harness.cli", "run", "canary-fail", "--report-dir", str(tmp_path / "r")],
                          capture_output=True, text=True, env=env, timeout=60, cwd=tmp_path)
    assert proc.returncode == 3, proc.stderr
    assert "Docker engine unreachable" in proc.stderr and "DOCKER_HOST" in proc.stderr
    assert not (tmp_path / "r").exists()
    proc = subprocess.run([sys.executable, "-m", "harness.cli", "clean"], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 3


class _NoImagesNoRegistry:
    """A fake engine: no local images, and every pull fails as it does without a registry."""

    class images:  # noqa: N801 - mirrors docker-py's attribute
        @staticmethod
        def get(name: str) -> None:
            raise docker.errors.ImageNotFound(name)

        @staticmethod
        def pull(name: str) -> None:
            raise docker.errors.APIError("dial tcp: lookup registry-1.docker.io: no such host")


def test_no_registry_and_official_forced_is_an_environment_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRILL_IMAGE_SOURCE", "official")
    messages: list[str] = []
    with pytest.raises(BackendUnavailable, match="no registry answered") as raised:
        images.ensure_images(_NoImagesNoRegistry(), messages.append)  # type: ignore[arg-type]
    # Why, in the error itself: the registry's own answer (the bootstrap that would say it never starts).
    assert "no registry reachable (dial tcp: lookup registry-1.docker.io: no such host)" in str(raised.value)


def test_inputs_digest_changes_with_the_serving_code(monkeypatch: pytest.MonkeyPatch) -> None:
    a = images.inputs_digest()
    assert a == images.inputs_digest() and len(a) == 16
    real = images._serving_bytes()
    monkeypatch.setattr(images, "_serving_bytes", lambda: {**real, "model_server.py": real["model_server.py"] + b"#"})
    assert images.inputs_digest() != a
