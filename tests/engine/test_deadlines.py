"""Step timeouts really stop the step: subprocesses killed, loops bounded, attempts never overlap."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from harness.engine.context import RunContext
from harness.engine.events import Event
from harness.engine.results import StepStatus
from harness.ports import Endpoint
from harness.runbook import executor as runbook
from harness.runbook.retry import AttemptAbandoned, RetryPolicy, StepTimeout, current_attempt, run
from harness.spec.models import RunbookSpec
from harness.traffic.generator import LoadGenerator
from tests.fakes import FakeTarget, default_sigint


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (not yet reaped by anyone) counts as gone.
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] != "Z"


def _context(allow_shell: bool = False) -> RunContext:
    events: list[Event] = []
    target = FakeTarget()
    load = LoadGenerator(Endpoint("127.0.0.1", 9), target.protocol, rate=1)  # never started: no traffic
    return RunContext(target=target, load=load, emit=events.append, variables={}, allow_shell=allow_shell)


def _one_step(step: dict[str, object]) -> RunbookSpec:
    return RunbookSpec.model_validate({"name": "t", "steps": [{"name": "s", **step}]})


def test_a_shell_step_is_killed_at_its_timeout_and_the_process_exits(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    script = textwrap.dedent(f"""
        from harness.runbook import executor as runbook
        from harness.engine.context import RunContext
        from harness.spec.models import RunbookSpec
        spec = RunbookSpec.model_validate({{"name": "t", "steps": [{{"name": "slow", "action": "shell",
            "params": {{"command": "sh -c 'echo $$$$ >> {pids}; sleep 120'"}}, "timeout": "1s",
            "retry": {{"attempts": 2, "backoff": "1ms"}}}}]}})
        ctx = RunContext(target=None, load=None, emit=lambda e: None, variables={{}}, allow_shell=True)
        out = runbook.execute(spec, ctx, lambda e: None)
        print(out.steps[0].status.value, out.steps[0].attempts, out.steps[0].error)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split()[:2] == ["failed", "2"]
    assert "within 1s" in proc.stdout
    started = [int(p) for p in pids.read_text().split()]
    assert len(started) == 2  # one shell per attempt
    assert not any(_alive(pid) for pid in started)


def test_attempts_never_overlap() -> None:
    spans: list[tuple[float, float]] = []

    def slow() -> str:
        began = time.monotonic()
        try:
            current_attempt().sleep(30)
            return "never"
        finally:
            spans.append((began, time.monotonic()))

    out = run(slow, RetryPolicy(attempts=3, backoff_s=0.0, timeout_s=0.3))
    assert out.attempts == 3 and isinstance(out.error, StepTimeout)
    assert len(spans) == 3
    for (_, ended), (began, _) in itertools.pairwise(spans):
        assert began >= ended


def test_an_attempt_that_ignores_its_deadline_is_abandoned_and_not_retried() -> None:
    calls: list[float] = []

    def stubborn() -> str:
        calls.append(time.monotonic())
        time.sleep(3)  # ignores the deadline: cannot be cancelled
        return "late"

    out = run(stubborn, RetryPolicy(attempts=3, backoff_s=0.0, timeout_s=0.1, grace_s=0.2))
    assert isinstance(out.error, AttemptAbandoned)
    assert out.attempts == 1 and len(calls) == 1


def test_error_rate_without_traffic_fails_at_the_deadline() -> None:
    spec = _one_step({"action": "verify.error_rate", "params": {"probe": 0}, "timeout": "500ms", "retry": {"attempts": 1}})
    t0 = time.monotonic()
    out = runbook.execute(spec, _context(), lambda e: None)
    assert out.steps[0].status is StepStatus.FAILED
    assert "0 of 40 requests" in (out.steps[0].error or "")
    assert time.monotonic() - t0 < 5


def test_a_wait_longer_than_the_timeout_ends_at_the_deadline() -> None:
    spec = _one_step({"action": "wait", "params": {"duration": "60s"}, "timeout": "300ms", "retry": {"attempts": 2, "backoff": "1ms"}})
    out = runbook.execute(spec, _context(), lambda e: None)
    assert out.steps[0].status is StepStatus.FAILED and out.steps[0].attempts == 2
    assert out.steps[0].duration_s is not None and out.steps[0].duration_s < 5


def test_shell_has_a_timeout_of_its_own(tmp_path: Path) -> None:
    spec = _one_step({"action": "shell", "params": {"command": "sleep 30", "timeout": "200ms"}, "timeout": "20s",
                      "retry": {"attempts": 1}})
    out = runbook.execute(spec, _context(allow_shell=True), lambda e: None)
    assert out.steps[0].status is StepStatus.FAILED
    assert "killed" in (out.steps[0].error or "")
    assert out.steps[0].duration_s is not None and out.steps[0].duration_s < 5


def test_shell_output_still_comes_back() -> None:
    spec = _one_step({"action": "shell", "params": {"command": "echo hello"}, "timeout": "5s"})
    out = runbook.execute(spec, _context(allow_shell=True), lambda e: None)
    assert out.steps[0].status is StepStatus.OK and out.steps[0].detail == "hello"


@pytest.mark.parametrize("seconds", [0.0, 0.05])
def test_attempt_sleep_raises_only_when_the_deadline_cuts_it(seconds: float) -> None:
    def fn() -> str:
        current_attempt().sleep(seconds)
        return "slept"

    assert run(fn, RetryPolicy(attempts=1, timeout_s=2)).value == "slept"


def test_ctrl_c_during_an_attempt_kills_its_subprocess(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    script = textwrap.dedent(f"""
        from harness.runbook import executor as runbook
        from harness.engine.context import RunContext
        from harness.spec.models import RunbookSpec
        spec = RunbookSpec.model_validate({{"name": "t", "steps": [{{"name": "slow", "action": "shell",
            "params": {{"command": "sh -c 'echo $$$$ >> {pids}; sleep 120'"}}, "timeout": "60s"}}]}})
        ctx = RunContext(target=None, load=None, emit=lambda e: None, variables={{}}, allow_shell=True)
        try:
            runbook.execute(spec, ctx, lambda e: None)
        except KeyboardInterrupt:
            print("interrupted")
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, preexec_fn=default_sigint)
    deadline = time.monotonic() + 30
    while not (pids.exists() and pids.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=30)
    assert "interrupted" in out
    assert not _alive(int(pids.read_text().split()[0]))
