"""A Debian base image made here when no registry answers: mmdebstrap or debootstrap, then ``docker import``.

mmdebstrap (Debian's package) is preferred: it downloads in parallel, unpacks without a second pass and
writes the image archive itself; debootstrap is the fallback where it is missing or fails. The tool's full
output goes to a log file (``build_log_path``); a person sees one line per phase of it (``BootstrapProgress``,
three lines for the whole bootstrap), each numbered ``k/n`` so a terminal can draw a bar from them.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from harness.errors import BackendUnavailable

Progress = Callable[[str], None]
TOOL_ENV = "DRILL_BOOTSTRAP_TOOL"  # mmdebstrap | debootstrap: only that one (default: the first installed)
TOOLS = ("mmdebstrap", "debootstrap")

# (prefix of a line of the tool's output, what a person is told); each phase is announced once, in order seen.
PHASES: dict[str, tuple[tuple[str, str], ...]] = {
    "mmdebstrap": (("I: downloading packages", "downloading packages"),
                   ("I: extracting archives", "installing packages"),
                   ("I: creating tarball", "writing the image archive")),
    "debootstrap": (("I: Retrieving", "downloading packages"),
                    ("I: Extracting", "installing packages"),
                    ("I: Configuring", "configuring packages")),
}


def build_log_path() -> Path:
    """Where the full bootstrap output goes: $XDG_STATE_HOME/drill/images-build.log."""
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "drill" / "images-build.log"


@dataclass
class BootstrapProgress:
    """Turns a bootstrap tool's line per package (hundreds) into one status line per phase: ``k/n: phase``."""

    progress: Progress
    tool: str = "debootstrap"
    announced: list[str] = field(default_factory=list)

    def line(self, text: str) -> None:
        phases = PHASES[self.tool]
        index = next((i for i, (prefix, _) in enumerate(phases) if text.startswith(prefix)), None)
        if index is None or len(self.announced) > index:  # later phases only: debootstrap returns to earlier ones
            return
        name = phases[index][1]
        self.announced = [p for _, p in phases[:index]] + [name]
        self.progress(f"{self.tool} {index + 1}/{len(phases)}: {name}")


_STEP = re.compile(r"^(?P<tool>\S+) (?P<done>\d+)/(?P<total>\d+): (?P<what>.+)$")


def step_of(message: str) -> tuple[int, int, str] | None:
    """(done, total, what) of a ``BootstrapProgress`` line, for a progress bar; None for any other message."""
    found = _STEP.match(message)
    if found is None:
        return None
    return int(found["done"]), int(found["total"]), f"{found['tool']}: {found['what']}"


@dataclass(frozen=True)
class Recipe:
    suite: str
    packages: tuple[str, ...]
    trim: tuple[str, ...]  # paths under the root that a container does not need
    mirror: str


def find_tools() -> list[tuple[str, str]]:
    """(name, path) of the bootstrap tools installed, preferred first (``$DRILL_BOOTSTRAP_TOOL`` picks one)."""
    wanted = os.environ.get(TOOL_ENV)
    found = []
    for name in TOOLS:
        if wanted and name != wanted:
            continue
        path = shutil.which(name) or (f"/usr/sbin/{name}" if Path(f"/usr/sbin/{name}").exists() else None)
        path = path or (f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists() else None)
        if path is not None:
            found.append((name, path))
    return found


def _command(name: str, path: str, recipe: Recipe, target: Path) -> list[str]:
    include = f"--include={','.join(recipe.packages)}"
    if name == "mmdebstrap":
        # Writes the archive itself; apt's lists and caches go with mmdebstrap's own cleanup, the rest of the
        # trimmed paths in a hook (dpkg's path-exclude would filter every package through mmtarfilter: slower).
        trim = " ".join(f'"$1"/{p}' for p in recipe.trim)
        return [path, "--variant=minbase", include, f"--customize-hook=rm -rf {trim}", recipe.suite, str(target),
                recipe.mirror]
    return [path, "--variant=minbase", include, recipe.suite, str(target), recipe.mirror]


def _run(cmd: list[str], tool: str, progress: Progress, log_path: Path, workdir: Path) -> tuple[int, list[str]]:
    status = BootstrapProgress(progress, tool)
    # The tool's own temporary root goes next to the archive (mmdebstrap honours TMPDIR).
    env = {**os.environ, "TMPDIR": str(workdir)}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    assert proc.stdout is not None
    tail: list[str] = []
    with log_path.open("a", encoding="utf-8") as log:
        log.write(f"$ {' '.join(cmd)}\n")
        for line in proc.stdout:
            log.write(line)
            line = line.strip()
            tail = [*tail, line][-15:]
            status.line(line)
    return proc.wait(), tail


def bootstrap_archive(recipe: Recipe, workdir: Path, progress: Progress, lead: str = "") -> Path:
    """A root filesystem archive (tar) of ``recipe``, made in ``workdir``; BackendUnavailable if no tool can.
    ``lead``: said before the first line (why a bootstrap is needed)."""
    tools = find_tools()
    problems = []
    if not tools:
        problems.append("neither mmdebstrap nor debootstrap is installed (apt-get install mmdebstrap)")
    if os.geteuid() != 0:
        problems.append("bootstrapping needs root (run `sudo drill images build` once)")
    if problems:
        raise BackendUnavailable(
            "cannot make the stack images: no registry answered and a Debian base cannot be bootstrapped: "
            + "; ".join(problems) + ". Fix one of these, or run `drill images build` where a registry answers.")
    log_path = build_log_path()
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_path.write_text("")
    failures = []
    for name, path in tools:
        progress(f"{lead}bootstrapping Debian {recipe.suite} with {name} from {recipe.mirror} (full log: {log_path})")
        lead = ""
        if name == "mmdebstrap":
            archive = workdir / "rootfs.tar"
            code, tail = _run(_command(name, path, recipe, archive), name, progress, log_path, workdir)
        else:
            rootfs = workdir / "rootfs"
            code, tail = _run(_command(name, path, recipe, rootfs), name, progress, log_path, workdir)
            if code == 0:
                for rel in recipe.trim:
                    shutil.rmtree(rootfs / rel, ignore_errors=True)
                archive = workdir / "rootfs.tar"
                subprocess.run(["tar", "-C", str(rootfs), "-cf", str(archive), "."], check=True)
        if code == 0:
            return archive
        failures.append(f"{name} failed (exit {code}). Last output:\n" + "\n".join(tail))
        if len(tools) > 1 and name == tools[0][0]:
            progress(f"{name} failed (exit {code}); trying {tools[1][0]}")
    raise BackendUnavailable(f"bootstrapping Debian failed with mirror {recipe.mirror}; set DRILL_DEBIAN_MIRROR to a "
                             f"reachable Debian mirror. Full log: {log_path}. " + "\n".join(failures))


SCRATCH_ENV = "DRILL_SCRATCH_DIR"  # where the root filesystem and its archive are made (default: see scratch_parent)
SCRATCH_NEEDS = 3 << 30  # bytes free: the unpacked root (~0.5 GB), its archive and the packages, with room to spare


def scratch_parent(candidates: tuple[str, ...] = ("/dev/shm",)) -> str | None:
    """The directory a bootstrap works in: ``$DRILL_SCRATCH_DIR``, else a memory filesystem when one is
    usable (writable, exec and dev allowed, 3 GiB free; dpkg's hundreds of small writes and fsyncs go
    there at memory speed: 17 s instead of 28-40 s on this machine's disk), else the system's temp dir (None)."""
    if wanted := os.environ.get(SCRATCH_ENV):
        return wanted
    for path in candidates:
        try:
            info = os.statvfs(path)
        except OSError:
            continue
        usable = not info.f_flag & (os.ST_NOEXEC | os.ST_NODEV | os.ST_RDONLY) and os.access(path, os.W_OK | os.X_OK)
        if usable and info.f_bavail * info.f_frsize >= SCRATCH_NEEDS:
            return path
    return None


def scratch_dir() -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(prefix="drill-rootfs-", dir=scratch_parent())
