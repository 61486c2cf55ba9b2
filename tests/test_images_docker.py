"""The one way drill builds an image on its bootstrapped base (stack/images.py ``build_on_base`` and
``build_in_memory``; the netfault, engine, MLflow and role images all go through it): a context made in memory,
files from the host beside it, the caller's labels, reuse while the tag is there, and a failed build named with
its log."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import docker.errors
import pytest

from harness.errors import BackendUnavailable
from harness.stack.docker_api import LABEL_HARNESS
from harness.stack.images import base_tag, build_in_memory, build_on_base


@pytest.fixture
def tag(docker_client: object) -> Iterator[str]:
    name = f"drill-test-build:{uuid.uuid4().hex[:12]}"
    yield name
    try:
        docker_client.images.remove(name, force=True)  # type: ignore[attr-defined]
    except docker.errors.ImageNotFound:  # a build that failed left no image
        pass


def test_a_context_in_memory_holds_its_files_the_hosts_and_the_labels(tag: str, tmp_path: Path,
                                                                       docker_client: object) -> None:
    host = tmp_path / "host.txt"
    host.write_text("b")
    dockerfile = (f"FROM {base_tag()}\nCOPY note.txt host.txt /opt/test/\n"
                  "RUN test \"$(cat /opt/test/note.txt /opt/test/host.txt)\" = ab\n")
    build_in_memory(docker_client, tag, {"Dockerfile": dockerfile.encode(), "note.txt": b"a"},  # type: ignore[arg-type]
                    {LABEL_HARNESS: "true", "io.drill.test": "yes"}, host_files={"host.txt": host})
    labels = docker_client.images.get(tag).labels  # type: ignore[attr-defined]
    assert labels[LABEL_HARNESS] == "true" and labels["io.drill.test"] == "yes"


def test_build_on_base_builds_once_and_then_reuses(tag: str, docker_client: object) -> None:
    said: list[str] = []
    assert build_on_base(docker_client, tag, "LABEL io.drill.test=once\n", {LABEL_HARNESS: "true"}, said.append,  # type: ignore[arg-type]
                         announce="building it") == tag
    assert said == ["building it"]
    assert docker_client.images.get(tag).labels["io.drill.test"] == "once"  # type: ignore[attr-defined]
    # There already: reused, nothing built nor announced (a recipe that would fail shows nothing ran)
    assert build_on_base(docker_client, tag, "RUN false\n", {}, said.append, announce="again") == tag  # type: ignore[arg-type]
    assert said == ["building it"]


def test_a_failed_build_names_the_tag_and_the_failing_step(tag: str, docker_client: object) -> None:
    said: list[str] = []
    with pytest.raises(BackendUnavailable) as caught:
        build_on_base(docker_client, tag, "RUN echo the-step-that-fails && false\n", {LABEL_HARNESS: "true"},  # type: ignore[arg-type]
                      said.append, announce=f"building {tag}", hint=" (a hint)")
    message = str(caught.value)
    assert f"building {tag} failed (a hint)" in message and "the-step-that-fails" in message
    assert said == [f"building {tag}"]
