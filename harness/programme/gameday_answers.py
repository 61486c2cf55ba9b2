"""What each drill of a GameDay will ask, and whether an answers file answers exactly that.

A drill run with people in the loop asks, in order: the rollback decision (``rollback`` or ``hold``; the
incident commander's, after the alert), then one confirmation (``done`` or ``failed``) for each manual step
of its runbook (the operator's). An answers file gives one list per drill, in the order the drills run (the
surprise last). Each answer may name who gave it: ``done by Dan``.

Checked before anything starts, every problem at once with file, field and line:

- an answer that is not one (``rollbak``) — at run time the next answer would silently become the decision;
- a list shorter than its drill asks — the missing decision would become an automated one after 0 s;
- a list longer than its drill asks, or more lists than drills — answers that would never be read
  (a list written for two drills);
- fewer lists than drills — a drill with no answers would be decided by automation, not by anyone;
- a name after ``by`` that is not a participant.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.engine.human import CONFIRMS, DECISIONS, split_answer
from harness.errors import SpecIssue
from harness.spec.catalogue import LoadedDrill
from harness.spec.models import line_of

# Strategies whose own judge or orchestrator decides (nobody is asked): for them the decision is optional.
SELF_DECIDING = frozenset({"progressive", "shadow", "swarm-update"})


@dataclass(frozen=True)
class Needs:
    """What one drill asks of the people in the loop."""

    drill: str
    runbook: str
    decision: bool  # the alert asks the incident commander to decide (False: the drill's strategy decides)
    steps: tuple[str, ...]  # the runbook's manual steps, in order (each confirmed by an operator)

    def describe(self) -> str:
        parts = ["the decision (rollback or hold)"] if self.decision else []
        parts += [f"manual step {name} (done or failed)" for name in self.steps]
        return ", then ".join(parts) if parts else "nothing (no decision, no manual step)"

    def example(self) -> list[str]:
        return (["rollback"] if self.decision else []) + ["done"] * len(self.steps)


def needs_of(drill: LoadedDrill) -> Needs:
    """A drill expected to promote asks nothing (its runbook does not run); one whose strategy decides on its
    own asks only its runbook's manual steps; any other asks the decision, then the manual steps."""
    if drill.spec.expected == "promote":
        return Needs(drill.spec.name, drill.runbook.name, False, ())
    asks = drill.spec.strategy.kind not in SELF_DECIDING
    return Needs(drill.spec.name, drill.runbook.name, asks, tuple(s.name for s in drill.runbook.steps if s.manual))


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def check_list(answers: Sequence[str], needs: Needs, file: str, text: str, index: int,
               people: frozenset[str], who: str = "") -> list[SpecIssue]:
    """One drill's list against what the drill asks (``who``: how the drill is named in a message)."""
    name = who or f"drill {needs.drill}"
    loc: tuple[str | int, ...] = ("drills", index)

    def issue(where: tuple[str | int, ...], message: str) -> SpecIssue:
        return SpecIssue(file, ".".join(map(str, where)), message, line_of(text, where) if text else None)

    issues: list[SpecIssue] = []
    kinds: list[str] = []
    decision: str | None = None
    for j, raw in enumerate(answers):
        word, by = split_answer(raw)
        if by is not None and by not in people:
            issues.append(issue((*loc, j), f"{by!r} is not a participant ({', '.join(sorted(people))})"))
        if word.lower() in DECISIONS:
            kinds.append("decision")
            if j != 0:
                issues.append(issue((*loc, j), f"{raw!r} is a decision, but the decision is the first answer of a "
                                               f"drill ({name} asks {needs.describe()})"))
            else:
                decision = DECISIONS[word.lower()]
        elif word.lower() in CONFIRMS:
            kinds.append("step")
        else:
            kinds.append("?")
            issues.append(issue((*loc, j), f"{raw!r} is not an answer: a decision is rollback or hold, a manual "
                                           f"step done or failed (optionally followed by 'by NAME')"))
    if "?" in kinds:
        return issues  # the count of a list with a typo in it would only repeat the typo
    steps = kinds.count("step")
    if needs.decision and decision is None:
        issues.append(issue(loc, f"{name} asks {needs.describe()}: the list has no decision first, so the "
                                 "decision would be made by automation, not by a person"))
    wanted = 0 if decision == "hold" else len(needs.steps)
    if decision is None and not needs.decision and not needs.steps and steps == 0:
        return issues
    if steps < wanted:
        issues.append(issue(loc, f"{name} asks {needs.describe()}: {_plural(steps, 'manual step answer')} for "
                                 f"{_plural(wanted, 'manual step')} of runbook {needs.runbook}; the missing "
                                 "confirmation would fail its step"))
    elif steps > wanted:
        why = "after hold nothing is rolled back" if decision == "hold" else f"runbook {needs.runbook} has {_plural(wanted, 'manual step')}"
        issues.append(issue(loc, f"{name} asks {needs.describe()}: {_plural(steps - wanted, 'answer')} too many "
                                 f"({why}); answers meant for another drill would never be read"))
    return issues


def check_answers(lists: Sequence[Sequence[str]], planned: Sequence[Needs], surprise: Sequence[Needs],
                  path: Path, text: str, people: frozenset[str]) -> list[SpecIssue]:
    """Every list against its drill; ``surprise``: the drills the surprise may be (its list must fit each)."""
    file = str(path)
    count = len(planned) + (1 if surprise else 0)
    issues: list[SpecIssue] = []
    names = [n.drill for n in planned] + (["the surprise"] if surprise else [])
    if len(lists) != count:
        left = names[len(lists):]
        what = (f"{', '.join(left)} would get no answers: its decision would be made by automation, not a person"
                if left else f"{_plural(len(lists) - count, 'list')} would never be read")
        issues.append(SpecIssue(file, "drills", f"{_plural(len(lists), 'answer list')} for {_plural(count, 'drill')} "
                                                f"({', '.join(names)}): {what}", line_of(text, ("drills",))))
    for i, needs in enumerate(planned[:len(lists)]):
        issues += check_list(lists[i], needs, file, text, i, people)
    if surprise and len(lists) > len(planned):
        for needs in surprise:
            # One candidate (or a seeded draw): its name stays hidden until the debrief, even here.
            who = f"the surprise (here {needs.drill}, one of {', '.join(n.drill for n in surprise)})" \
                if len(surprise) > 1 else "the surprise"
            issues += check_list(lists[len(planned)], needs, file, text, len(planned), people, who)
    return issues
