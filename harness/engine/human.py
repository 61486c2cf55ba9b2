"""A person in the loop: the rollback decision and manual runbook steps, answered on a text stream.

The stream is standard input at a terminal, or an answers file (one answer a line, ``#`` comments),
which is how tests and rehearsals drive a quarterly drill without patching code. Answers:
``rollback`` / ``hold`` for the decision, ``done`` / ``failed`` for a manual step.
"""

from __future__ import annotations

import queue
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

DECISIONS = {"rollback": "rollback", "r": "rollback", "roll back": "rollback", "hold": "hold", "h": "hold"}
CONFIRMS = {"done": True, "d": True, "y": True, "yes": True, "failed": False, "fail": False, "n": False, "no": False}


@dataclass(frozen=True)
class Answer:
    value: str | None  # None: timed out or the stream ended
    text: str


class HumanInput:
    """Reads answers from a stream on a background thread so prompts can time out."""

    def __init__(self, stream: TextIO | None = None, prompt: Callable[[str], None] | None = None) -> None:
        self.stream = stream or sys.stdin
        self.prompt = prompt or (lambda text: print(text, file=sys.stderr, flush=True))
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True, name="human-input")
        self._reader.start()

    def _read(self) -> None:
        for line in self.stream:
            stripped = line.strip()
            if stripped and not stripped.startswith("#"):
                self._lines.put(stripped)
        self._lines.put(None)

    def _ask(self, text: str, accepted: dict[str, object], timeout: float) -> Answer:
        self.prompt(text)
        while True:
            try:
                line = self._lines.get(timeout=timeout)
            except queue.Empty:
                return Answer(None, "")
            if line is None:
                self._lines.put(None)  # the stream stays ended for later questions
                return Answer(None, "")
            if line.lower() in accepted:
                return Answer(str(accepted[line.lower()]), line)
            self.prompt(f"  not understood: {line!r}; answer one of: {', '.join(sorted(set(map(str, accepted))))}")

    def decide(self, alert: str, timeout: float) -> Answer:
        return self._ask(f"{alert}\nDecide: rollback or hold (timeout {timeout:g}s) > ", dict(DECISIONS), timeout)

    def confirm(self, step: str, instructions: str, timeout: float) -> Answer:
        answer = self._ask(f"MANUAL STEP {step}: {instructions}\nType done or failed (timeout {timeout:g}s) > ",
                           dict(CONFIRMS), timeout)
        return Answer(None if answer.value is None else ("done" if answer.value == "True" else "failed"), answer.text)

    def text(self, prompt: str) -> str | None:
        """The next line as typed, whatever it says (a GameDay's retrospective); None when the stream ended."""
        self.prompt(prompt)
        line = self._lines.get()
        if line is None:
            self._lines.put(None)
        return line
