"""A quiet first run: on a non-terminal (a CI log) the image bootstrap says one line per phase, a handful for
the whole of it, never one per package; no message is cut mid-word. Run over recorded bootstrap logs
(tests/data/*.log: debootstrap's and mmdebstrap's real output on this machine), through the plain console."""

from __future__ import annotations

import io
import os
import re
import stat
import tarfile
from pathlib import Path
from typing import Any

import docker.errors
import pytest

from harness.engine.events import Progress
from harness.listeners.console import PlainConsole, image_progress
from harness.stack import images
from harness.stack.bootstrap import BootstrapProgress, step_of

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.mark.parametrize(("tool", "most"), [("debootstrap", 3), ("mmdebstrap", 3)])
def test_a_recorded_bootstrap_log_becomes_one_line_per_phase(tool: str, most: int) -> None:
    log = (DATA / f"{tool}.log").read_text().splitlines()
    assert len(log) > 8  # the real thing: many lines (debootstrap: one per package and phase)
    seen: list[str] = []
    status = BootstrapProgress(seen.append, tool)
    for line in log:
        status.line(line.strip())
    assert len(seen) == most, seen
    steps = [step_of(s) for s in seen]
    assert all(s is not None for s in steps)
    assert [s[0] for s in steps if s] == list(range(1, len(seen) + 1))  # k/n counts up: a bar can follow it


class FakeImage:
    def __init__(self, owner: FakeImages, tag: str) -> None:
        self.owner, self.tags = owner, [tag]
        self.labels = owner.labels.get(tag, {})

    def tag(self, repo: str, tag: str | None = None) -> None:
        self.owner.known.add(f"{repo}:{tag}" if tag else repo)


class FakeImages:
    """An engine with no image and no registry (a fake injected where docker-py's client would be)."""

    def __init__(self) -> None:
        self.known: set[str] = set()
        self.labels: dict[str, dict[str, str]] = {}
        self.dockerfiles: list[str] = []
        self.archives: list[list[str]] = []  # the names in each imported archive

    def get(self, tag: str) -> FakeImage:
        if tag not in self.known:
            raise docker.errors.ImageNotFound(tag)
        return FakeImage(self, tag)

    def pull(self, image: str) -> None:
        raise docker.errors.APIError("pull", explanation=(
            "Get \"https://registry-1.docker.io/v2/\": dial tcp: lookup registry-1.docker.io on 127.0.0.11:53: "
            "server misbehaving while resolving the registry's address for the official images"))

    def build(self, **kw: Any) -> None:
        with tarfile.open(fileobj=kw["fileobj"]) as context:
            member = context.extractfile("Dockerfile")
            assert member is not None
            self.dockerfiles.append(member.read().decode())
        self.known.add(kw["tag"])


class FakeApi:
    def __init__(self, owner: FakeImages) -> None:
        self.owner = owner

    def import_image_from_file(self, path: str, repository: str, tag: str, changes: list[str]) -> None:
        with tarfile.open(path) as archive:
            self.owner.archives.append(archive.getnames())
        self.owner.known.add(f"{repository}:{tag}")
        self.owner.labels[f"{repository}:{tag}"] = dict(c.removeprefix("LABEL ").split("=", 1) for c in changes)


class FakeClient:
    def __init__(self) -> None:
        self.images = FakeImages()
        self.api = FakeApi(self.images)


def fake_tool(bin_dir: Path, name: str) -> None:
    """A stand-in for the bootstrap tool that replays its recorded output and writes an empty archive."""
    script = bin_dir / name
    script.write_text(f"#!/bin/sh\ncat {DATA / (name + '.log')}\n"
                      "for last; do :; done\n"  # the mirror is last; the target is the one before it
                      'target=$(eval echo \\${$(($#-1))})\n'
                      'case "$target" in *.tar) mkdir -p "$target.d/etc" && echo bookworm > "$target.d/etc/debian_version" && '
                      'tar -C "$target.d" -cf "$target" ./etc/debian_version;; *) mkdir -p "$target";; esac\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)


@pytest.mark.skipif(os.geteuid() != 0, reason="the bootstrap path is taken as root only")
@pytest.mark.parametrize("tool", ["mmdebstrap", "debootstrap"])
def test_a_cold_image_build_prints_at_most_ten_lines_to_a_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                               tool: str) -> None:
    fake_tool(tmp_path, tool)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    monkeypatch.setenv("DRILL_BOOTSTRAP_TOOL", tool)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    out = io.StringIO()
    console = PlainConsole(out)
    found = images.ensure_images(FakeClient(), lambda m: console.on_event(Progress(m)))  # type: ignore[arg-type]
    assert found.source == "bootstrap"
    lines = out.getvalue().splitlines()
    assert 3 <= len(lines) <= 6, lines  # why and with what, three phases, the role image build
    assert "no registry reachable" in lines[0] and f"with {tool}" in lines[0]
    reason = re.search(r"no registry reachable \((.*)\);", lines[0])
    assert reason is not None and reason[1].endswith(" …")  # shortened at a word, said so
    assert (tmp_path / "state" / "drill" / "images-build.log").read_text().count("\n") > 8  # all of it is kept


@pytest.mark.skipif(os.geteuid() != 0, reason="the bootstrap path is taken as root only")
def test_a_bootstrapped_base_holds_the_serving_files_so_its_role_image_copies_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_tool(tmp_path, "mmdebstrap")
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    monkeypatch.setenv("DRILL_BOOTSTRAP_TOOL", "mmdebstrap")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    client = FakeClient()
    images.ensure_images(client, lambda m: None)  # type: ignore[arg-type]
    names = client.images.archives[0]
    assert names == ["./etc/debian_version", "./opt/drill", *(f"./opt/drill/{name}" for name in images.SERVING_FILES)]
    assert client.images.dockerfiles == []  # the base is the role image: tagged, not built
    assert {f"drill-{role}:{images.inputs_digest()}" for role in images.ROLES} <= client.images.known
    # Serving files changed since that base was made: the role image copies them in a build.
    client.images.labels[images.base_tag()][images.LABEL_SERVING] = "older"
    for role in images.ROLES:
        client.images.known.discard(f"drill-{role}:{images.inputs_digest()}")
    images.ensure_images(client, lambda m: None)  # type: ignore[arg-type]
    assert len(client.images.dockerfiles) == 1 and client.images.dockerfiles[0].splitlines()[1] == "COPY . /opt/drill/"


def test_images_build_on_a_log_prints_plain_lines() -> None:
    from rich.console import Console

    out = io.StringIO()
    with image_progress(Console(file=out, force_terminal=False)) as progress:
        progress("mmdebstrap 1/3: downloading packages")
        progress("building drill-model:0123")
    assert out.getvalue().splitlines() == ["mmdebstrap 1/3: downloading packages", "building drill-model:0123"]


def test_at_a_terminal_the_bootstrap_is_one_live_bar() -> None:
    from rich.console import Console

    from harness.engine.events import PhaseStarted
    from harness.listeners.console import LiveConsole

    out = io.StringIO()
    live = LiveConsole(Console(file=out, force_terminal=True, width=100))
    try:
        live.on_event(PhaseStarted("prepare"))
        status = BootstrapProgress(lambda m: live.on_event(Progress(m)), "mmdebstrap")
        for line in (DATA / "mmdebstrap.log").read_text().splitlines()[:9]:  # up to "installing essential packages"
            status.line(line)
        assert live.bar == (2, 3, "mmdebstrap: installing packages")
        live.on_event(Progress("building drill-model:0123"))
        assert live.bar is not None and live.bar[0] == 2  # other messages leave the bar where it is
    finally:
        live.live.stop()


def test_a_steps_notification_is_said_once_on_a_log() -> None:
    from harness.engine.events import Notified, StepEnded, StepStarted
    from harness.engine.results import StepResult, StepStatus

    out = io.StringIO()
    console = PlainConsole(out)
    console.on_event(StepStarted("page", "notify", False))
    console.on_event(Notified("ml-oncall", "rolling back"))
    console.on_event(StepEnded(StepResult("page", "notify", StepStatus.OK, None, None, 0.0, 1, "#ml-oncall: rolling back")))
    console.on_event(Notified("escalation", "no decision within 600s"))  # the engine's own, outside any step
    lines = out.getvalue().splitlines()
    assert len(lines) == 2, lines
    assert "step page [notify] ok" in lines[0] and "#ml-oncall: rolling back" in lines[0]
    assert lines[1].endswith("notify #escalation: no decision within 600s")


def test_the_bootstrap_works_in_memory_where_it_can(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.stack import bootstrap

    monkeypatch.delenv(bootstrap.SCRATCH_ENV, raising=False)
    assert bootstrap.scratch_parent((str(tmp_path / "missing"),)) is None  # no such filesystem: the temp dir
    usable = os.statvfs(tmp_path)
    room = usable.f_bavail * usable.f_frsize >= bootstrap.SCRATCH_NEEDS and not usable.f_flag & os.ST_NOEXEC
    assert bootstrap.scratch_parent((str(tmp_path),)) == (str(tmp_path) if room else None)
    monkeypatch.setenv(bootstrap.SCRATCH_ENV, str(tmp_path / "chosen"))
    assert bootstrap.scratch_parent() == str(tmp_path / "chosen")
