"""A person in the loop: the rollback decision and manual runbook steps, answered on a text stream.

The stream is standard input at a terminal, or an answers file (one answer a line, ``#`` comments),
which is how tests and rehearsals drive a quarterly drill without patching code. Answers:
``rollback`` / ``hold`` for the decision, ``done`` / ``failed`` for a manual step, each optionally followed by
``by NAME`` (who decided or did it, when it is not the default person).

The input knows its source (``DecidedBy``): a person at a terminal, or an answers file (any stream that is
not a terminal), so every record says whether a person or a file decided.
"""

from __future__ import annotations

import queue
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

from harness.outcomes import DecidedBy

DECISIONS = {"rollback": "rollback", "r": "rollback", "roll back": "rollback", "hold": "hold", "h": "hold"}
CONFIRMS = {"done": True, "d": True, "y": True, "yes": True, "failed": False, "fail": False, "n": False, "no": False}


@dataclass(frozen=True)
class Answer:
    value: str | None  # None: timed out or the stream ended
    text: str
    by: str | None = None  # the person named with "by NAME", if any
    ended: bool = False  # no answer because the stream (an answers file) had none left, not a timeout

    def silence(self, timeout: float) -> str:
        """Why there is no answer, in words."""
        return "the answers had none left" if self.ended else f"no answer within {timeout:g}s"


def split_answer(line: str) -> tuple[str, str | None]:
    """``"done by Dan"`` -> ``("done", "Dan")``; ``"rollback"`` -> ``("rollback", None)``."""
    word, sep, name = line.partition(" by ")
    return (word.strip(), name.strip() or None) if sep else (line.strip(), None)


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class HumanInput:
    """Reads answers from a stream on a background thread so prompts can time out."""

    def __init__(self, stream: TextIO | None = None, prompt: Callable[[str], None] | None = None,
                 source: DecidedBy | None = None, who: str | None = None) -> None:
        self.stream = stream or sys.stdin
        # Who answers: a person at a terminal; anything else (a file, a pipe) is an answers file.
        self.source = source or (DecidedBy.PERSON if _is_terminal(self.stream) else DecidedBy.ANSWERS_FILE)
        self.who = who  # the person answering by default (a GameDay's incident commander), if known
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
                return Answer(None, "", ended=True)
            word, by = split_answer(line)
            if word.lower() in accepted:
                return Answer(str(accepted[word.lower()]), line, by)
            self.prompt(f"  not understood: {line!r}; answer one of: {', '.join(sorted(set(map(str, accepted))))}")

    def decide(self, alert: str, timeout: float) -> Answer:
        return self._ask(f"{alert}\nDecide: rollback or hold (timeout {timeout:g}s) > ", dict(DECISIONS), timeout)

    def confirm(self, step: str, instructions: str, timeout: float) -> Answer:
        answer = self._ask(f"MANUAL STEP {step}: {instructions}\nType done or failed (timeout {timeout:g}s) > ",
                           dict(CONFIRMS), timeout)
        return Answer(None if answer.value is None else ("done" if answer.value == "True" else "failed"), answer.text,
                      answer.by, answer.ended)

    def text(self, prompt: str) -> str | None:
        """The next line as typed, whatever it says (a GameDay's retrospective); None when the stream ended."""
        self.prompt(prompt)
        line = self._lines.get()
        if line is None:
            self._lines.put(None)
        return line
