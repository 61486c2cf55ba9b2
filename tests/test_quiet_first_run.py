"""A quiet first run: on a non-terminal (a CI log) the image bootstrap says one line per phase, a handful for
the whole of it, never one per package; no message is cut mid-word. Run over recorded bootstrap logs
(tests/data/*.log: debootstrap's and mmdebstrap's real output on this machine), through the plain console."""

from __future__ import annotations

import io
import os
import re
import stat
from pathlib import Path
from typing import Any

import docker.errors
import pytest

from harness.engine.events import Progress
from harness.listeners.console import PlainConsole, image_progress
from harness.stack import images
from harness.stack.bootstrap import BootstrapProgress, step_of

DATA = Path(__file__).parent / "data"


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

    def tag(self, repo: str, tag: str | None = None) -> None:
        self.owner.known.add(f"{repo}:{tag}" if tag else repo)


class FakeImages:
    """An engine with no image and no registry (a fake injected where docker-py's client would be)."""

    def __init__(self) -> None:
        self.known: set[str] = set()

    def get(self, tag: str) -> FakeImage:
        if tag not in self.known:
            raise docker.errors.ImageNotFound(tag)
        return FakeImage(self, tag)

    def pull(self, image: str) -> None:
        raise docker.errors.APIError("pull", explanation=(
            "Get \"https://registry-1.docker.io/v2/\": dial tcp: lookup registry-1.docker.io on 127.0.0.11:53: "
            "server misbehaving while resolving the registry's address for the official images"))

    def build(self, **kw: Any) -> None:
        self.known.add(kw["tag"])


class FakeApi:
    def __init__(self, owner: FakeImages) -> None:
        self.owner = owner

    def import_image_from_file(self, path: str, repository: str, tag: str, changes: list[str]) -> None:
        assert Path(path).is_file()
        self.owner.known.add(f"{repository}:{tag}")


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
                      'case "$target" in *.tar) : > "$target";; *) mkdir -p "$target";; esac\n')
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
