"""The team's commands: argument lists without a shell, a timeout that kills the whole process group, the exit
status and last lines kept, an abort that kills what runs and refuses what comes, the abort commands still run."""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

import pytest

from harness.targets.external.runner import CommandFailed, Runner

PY = sys.executable


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_command_runs_in_its_directory_with_its_environment_and_no_shell(tmp_path: Path) -> None:
    runner = Runner(tmp_path, {"TEAM": "fraud"})
    result = runner.run("deploy", [PY, "-c", "import os, sys; print(os.getcwd()); print(os.environ['TEAM'], sys.argv[1:])",
                                   "$HOME;", "`id`"], timeout=10, env={"EXTRA": "1"})
    assert result.ok and result.exit_code == 0
    assert result.last_lines == (str(tmp_path), "fraud ['$HOME;', '`id`']")  # no shell: nothing expanded
    assert runner.results == [result]


def test_a_failing_command_raises_with_its_exit_status_and_last_lines(tmp_path: Path) -> None:
    runner = Runner(tmp_path)
    with pytest.raises(CommandFailed, match=r"(?s)rollback: .*exit 3 .*last lines: .*line 24") as caught:
        runner.run("rollback", [PY, "-c", "import sys\nfor i in range(25): print('line', i)\nsys.exit(3)"], timeout=10)
    result = caught.value.result
    assert result is not None and result.exit_code == 3 and len(result.last_lines) == 20
    assert result.last_lines[-1] == "line 24"


def test_a_missing_program_is_a_failed_command(tmp_path: Path) -> None:
    with pytest.raises(CommandFailed, match="cannot run 'kubectl-no-such'"):
        Runner(tmp_path).run("deploy", ["kubectl-no-such", "get", "pods"], timeout=5)


def test_a_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    script = (f"import subprocess, sys, time; p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
              f"open({str(pid_file)!r}, 'w').write(str(p.pid)); time.sleep(60)")
    started = time.monotonic()
    with pytest.raises(CommandFailed, match="timed out") as caught:
        Runner(tmp_path).run("deploy", [PY, "-c", script], timeout=1.0)
    assert time.monotonic() - started < 5
    assert caught.value.result is not None and caught.value.result.timed_out
    child = int(pid_file.read_text())
    deadline = time.monotonic() + 3
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child), "the command's own child outlived the timeout"


def test_an_abort_kills_what_runs_refuses_what_comes_and_still_runs_the_abort_commands(tmp_path: Path) -> None:
    runner = Runner(tmp_path)
    outcome: list[BaseException] = []

    def deploy() -> None:
        try:
            runner.run("deploy", [PY, "-c", "import time; time.sleep(30)"], timeout=60)
        except CommandFailed as exc:
            outcome.append(exc)

    thread = threading.Thread(target=deploy)
    thread.start()
    time.sleep(0.5)
    started = time.monotonic()
    runner.abort("guard gateway-health")
    thread.join(timeout=5)
    assert time.monotonic() - started < 2 and outcome and "killed by an abort" in str(outcome[0])
    with pytest.raises(CommandFailed, match=r"not run: the drill was aborted \(guard gateway-health\)"):
        runner.run("rollback", [PY, "-c", "pass"], timeout=5)
    after = runner.run_always("abort", [PY, "-c", "print('rolled back')"], timeout=5)
    assert after.ok and after.last_lines == ("rolled back",)
    assert [r.purpose for r in runner.results] == ["deploy", "rollback", "abort"]
