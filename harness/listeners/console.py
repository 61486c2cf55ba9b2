"""What a person sees during ``drill run``: a rich live view at a terminal, plain lines otherwise."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.progress import BarColumn, TextColumn, TimeElapsedColumn
from rich.progress import Progress as RichProgress
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from harness.engine.events import (
    Breach,
    Decided,
    Event,
    Notified,
    PhaseEnded,
    PhaseStarted,
    Progress,
    RunFinished,
    RunStarted,
    StepEnded,
    StepStarted,
    TrafficTick,
)
from harness.engine.results import DrillResult, StepStatus
from harness.stack.bootstrap import step_of


class SafeConsole(Console):
    """A rich Console whose lost pipe is an ordinary error for the engine to log, not an exit.

    rich's default answer to a broken pipe is to point *stdout* at /dev/null and raise SystemExit, which
    would end the run mid-way and swallow ``--json``; here the console goes quiet and says so once."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        raise BrokenPipeError(32, "console output closed")


def _fmt_s(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}s"


def summary_line(result: DrillResult) -> str:
    return (f"{result.drill}: {result.status.value.upper()} — {result.reason} "
            f"(detect {_fmt_s(result.detect_s)}, decision→completion {_fmt_s(result.decision_to_completion_s)}, "
            f"target {result.target_s:g}s)")


class PlainConsole:
    """One line per meaningful event, for logs, CI and ``--json`` (on stderr)."""

    def __init__(self, stream: TextIO) -> None:
        self.console = SafeConsole(file=stream, highlight=False, soft_wrap=True)
        self.t0 = time.monotonic()
        self.in_step = False

    def _line(self, text: str) -> None:
        self.console.print(f"[{time.monotonic() - self.t0:6.2f}s] {text}", markup=False)

    def on_event(self, event: Event) -> None:
        match event:
            case RunStarted(run_id=run_id, drill=drill, profile=profile):
                self._line(f"drill {drill} (profile {profile}), run {run_id}")
            case PhaseStarted(phase=phase):
                self._line(f"phase {phase}")
            case PhaseEnded(phase=phase, status=status, duration_s=d) if status != "ok":
                self._line(f"phase {phase} {status} after {d:.2f}s")
            case Progress(message=message):
                self._line(f"  {message}")
            case Breach(evidence=e):
                self._line(f"  first breach: {e.headline}")
            case Decided(decision=decision, trigger=trigger, by=by, decider=decider):
                who = "" if by == "automation" else f", by {'the answers file' if by == 'answers-file' else decider or 'a person'}"
                self._line(f"  decision: {decision} ({trigger}{who})")
            case StepEnded(result=r):
                mark = "ok" if r.status is StepStatus.OK else r.status.value.upper()
                self.in_step = False
                self._line(f"  step {r.name} [{r.action}] {mark} in {_fmt_s(r.duration_s)}, "
                           f"{r.attempts} attempt(s): {r.error or r.detail}")
            case StepStarted():
                self.in_step = True
            case Notified(channel=channel, message=message) if not self.in_step:  # a step's own: on its line
                self._line(f"  notify #{channel}: {message}")
            case RunFinished(result=result):
                self._line(summary_line(result))
            case _:
                pass


class LiveConsole:
    """A rich live panel: phase, elapsed time, canary weight, per-version traffic, decision, steps."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.t0 = time.monotonic()
        self.title = "drill"
        self.phase = "starting"
        self.message = ""
        self.tick: TrafficTick | None = None
        self.decision = "—"
        self.steps: list[tuple[str, str, str]] = []
        self.bar: tuple[int, int, str] | None = None  # an image bootstrap's phase k of n, while it runs
        self.live = Live(self._render(), console=console, refresh_per_second=8, transient=False)
        self.live.start()

    def _render(self) -> Panel:
        head = Table.grid(padding=(0, 2))
        head.add_row("phase", Text(self.phase, style="bold cyan"), "elapsed", f"{time.monotonic() - self.t0:.1f}s")
        head.add_row("canary weight", f"{self.tick.weight if self.tick else 0}%", "decision", self.decision)
        traffic = Table("version", "req/s", "errors/s", box=None)
        if self.tick:
            for version in sorted(self.tick.requests):
                errors = self.tick.errors.get(version, 0)
                traffic.add_row(version, str(self.tick.requests[version]), Text(str(errors), style="red" if errors else ""))
        steps = Table("step", "status", "time", box=None)
        for name, status, took in self.steps:
            steps.add_row(name, Text(status, style="green" if status == "ok" else "yellow" if status == "…" else "red"), took)
        parts: list[Table | Text | ProgressBar] = [head, traffic, steps, Text(self.message, style="dim")]
        if self.bar is not None and self.phase == "prepare":
            done, total, _ = self.bar
            parts.append(ProgressBar(total=total, completed=done, width=40))
        return Panel(Group(*parts), title=self.title)

    def on_event(self, event: Event) -> None:
        match event:
            case RunStarted(drill=drill, run_id=run_id):
                self.title = f"drill {drill} — {run_id}"
            case PhaseStarted(phase=phase):
                self.phase = phase
            case Progress(message=message):
                self.message = message
                self.bar = step_of(message) or self.bar
            case TrafficTick():
                self.tick = event
            case Breach(evidence=e):
                self.message = f"first breach: {e.headline}"
            case Decided(decision=decision, trigger=trigger):
                self.decision = f"{decision} ({trigger})"
            case StepStarted(name=name):
                self.steps.append((name, "…", ""))
            case StepEnded(result=r):
                self.steps = [s for s in self.steps if s[0] != r.name] + [(r.name, r.status.value, _fmt_s(r.duration_s))]
            case Notified(channel=channel, message=message):
                self.message = f"#{channel}: {message}"
            case RunFinished(result=result):
                self.phase = "done"
                self.live.update(self._render())
                self.live.stop()
                self.console.print(summary_line(result), markup=False)
                return
        self.live.update(self._render())

    def stop(self) -> None:
        if self.live.is_started:
            self.live.stop()


@contextmanager
def image_progress(console: Console) -> Iterator[Callable[[str], None]]:
    """Progress of ``drill images build``: at a terminal one live bar (an image bootstrap's phases) with the
    latest message; elsewhere (a CI log) one plain line per message, which the bootstrap keeps to a few."""
    if not console.is_terminal:
        yield lambda message: console.print(message, markup=False, highlight=False, soft_wrap=True)
        return
    with RichProgress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=console,
                      transient=True) as bar:
        task = bar.add_task("images", total=None)

        def update(message: str) -> None:
            step = step_of(message)
            if step is not None:
                bar.update(task, completed=step[0], total=step[1], description=step[2])
            else:
                bar.update(task, description=message)

        yield update
