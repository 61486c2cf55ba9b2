"""A GameDay plan and its answers file, validated at the edge (every problem at once, file and field named).

    name: q4-fraud-gameday
    participants:
      - {name: Ana, role: incident-commander}
      - {name: Ben, role: operator}
      - {name: Chloé, role: scribe}
    drills: [canary-fail]
    surprise: {from: [canary-latency, canary-wrong-answers], seed: 7}

The answers file (what makes a GameDay testable end to end) holds each drill's prompt answers, in the
order the drills run (the surprise last), and the retrospective:

    drills:
      - [rollback, done]
    retrospective:
      went_well: [the alert named the runbook]
      went_badly: [nobody knew where the previous version's checksum lives]
      actions:
        - {what: link the checksum page from the runbook, owner: Ben, due: 2026-12-15}
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StringConstraints, model_validator

from harness.errors import SpecError, SpecIssue
from harness.spec import catalogue
from harness.spec.models import line_of as _line_of
from harness.spec.models import load_yaml, parse_model
from harness.spec.types import Name, Strict
from harness.store.codec import MAX_YEAR
from harness.store.text import plain

Role = Literal["incident-commander", "operator", "scribe"]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500), AfterValidator(plain)]


class ParticipantSpec(Strict):
    """One person and the role they play; a role may be held by several (two operators)."""

    name: Text = Field(description="as the log and the action items name them")
    role: Role = Field(description="incident-commander decides after the alert; operator does the manual steps; "
                                   "scribe keeps the notes. Each role needs somebody")


class SurpriseSpec(Strict):
    """One scenario drawn at random from ``from``; its name is shown only at the debrief."""

    from_: list[str] = Field(alias="from", min_length=1, description="the drills (names or paths) one is drawn from")
    seed: int | None = Field(default=None, description="a fixed seed makes the draw reproducible (a rehearsal, a "
                                                        "re-run); an answers file is then checked against the drawn drill")


class GameDayPlan(Strict):
    """A GameDay: who takes part in which role, the drills run in order, and a surprise drawn last."""

    name: Name = Field(description="the GameDay's name (part of its id)")
    description: Annotated[str, AfterValidator(plain)] = Field(default="", description="free text for the page")
    participants: list[ParticipantSpec] = Field(min_length=1, description="everyone taking part, each with a role")
    drills: list[str] = Field(default_factory=list, description="drills run in this order (names or paths)")
    surprise: SurpriseSpec | None = Field(default=None, description="a scenario drawn at random, run last, its name "
                                                                    "shown only at the debrief")
    profile: str = Field(default="ci", description="the drills' profile; the decision is always a person's (as --manual)")

    @model_validator(mode="after")
    def _roles_and_drills(self) -> GameDayPlan:
        roles = {p.role for p in self.participants}
        missing = [role for role in ("incident-commander", "operator", "scribe") if role not in roles]
        if missing:
            raise ValueError(f"participants: nobody has the role {', '.join(missing)}")
        if not self.drills and self.surprise is None:
            raise ValueError("give drills, a surprise, or both")
        return self

    def person(self, role: str) -> str:
        return next(p.name for p in self.participants if p.role == role)


class ActionSpec(Strict):
    """An action item from the retrospective."""

    what: Text = Field(description="what is to be done")
    owner: Text = Field(description="a participant of the plan")
    due: date = Field(description=f"YYYY-MM-DD, from the GameDay's day to {MAX_YEAR}-12-31")


class RetrospectiveSpec(Strict):
    """The retrospective: what went well, what did not, and the action items."""

    went_well: list[Text] = Field(default_factory=list, description="one item a line")
    went_badly: list[Text] = Field(default_factory=list, description="one item a line")
    actions: list[ActionSpec] = Field(default_factory=list, description="action items, each with an owner and a due date")


class GameDayAnswers(Strict):
    """Each drill's answers, in the order the drills run (the surprise last), and the retrospective."""

    drills: list[list[Text]] = Field(default_factory=list, description="one list per drill: the decision (rollback "
                                     "or hold), then done or failed for each manual step; 'by NAME' names who")
    retrospective: RetrospectiveSpec = Field(description="the retrospective, as the scribe would type it")


def load_plan(path: Path) -> GameDayPlan:
    """The plan, with every drill it names (surprise set included) found and valid; SpecError otherwise."""
    plan = parse_model(path, GameDayPlan)
    _, text = load_yaml(path)
    issues: list[SpecIssue] = []
    named: list[tuple[tuple[str | int, ...], str]] = [(("drills", i), name) for i, name in enumerate(plan.drills)]
    if plan.surprise is not None:
        named += [(("surprise", "from", i), name) for i, name in enumerate(plan.surprise.from_)]
    for loc, name in named:
        try:
            catalogue.load_drill(name)
        except SpecError as exc:
            first = exc.issues[0].message if exc.issues else "not found"
            issues.append(SpecIssue(str(path), ".".join(map(str, loc)), first, _line_of(text, loc)))
    if issues:
        raise SpecError(issues)
    return plan


def check_retrospective(retro: RetrospectiveSpec, plan: GameDayPlan, file: str, text: str = "",
                        today: date | None = None, prefix: tuple[str, ...] = ("retrospective",)) -> None:
    """Owners are participants; due dates fall between the GameDay and the year MAX_YEAR."""
    day = today or datetime.now(UTC).date()
    people = {p.name for p in plan.participants}
    issues: list[SpecIssue] = []
    for i, item in enumerate(retro.actions):
        loc: tuple[str | int, ...] = (*prefix, "actions", i)
        if item.owner not in people:
            issues.append(SpecIssue(file, ".".join(map(str, (*loc, "owner"))),
                                    f"{item.owner!r} is not a participant ({', '.join(sorted(people))})",
                                    _line_of(text, (*loc, "owner")) if text else None))
        if not day <= item.due <= date(MAX_YEAR, 12, 31):
            issues.append(SpecIssue(file, ".".join(map(str, (*loc, "due"))),
                                    f"due date {item.due.isoformat()} out of range ({day.isoformat()} .. {MAX_YEAR}-12-31)",
                                    _line_of(text, (*loc, "due")) if text else None))
    if issues:
        raise SpecError(issues)


def load_answers(path: Path, plan: GameDayPlan, today: date | None = None,
                 lists: Callable[[GameDayAnswers, str], list[SpecIssue]] | None = None) -> GameDayAnswers:
    """The answers file; ``lists`` checks its answer lists against the drills (every issue raised at once)."""
    answers = parse_model(path, GameDayAnswers)
    _, text = load_yaml(path)
    issues = lists(answers, text) if lists is not None else []
    try:
        check_retrospective(answers.retrospective, plan, str(path), text, today)
    except SpecError as exc:
        issues += exc.issues
    if issues:
        raise SpecError(issues)
    return answers
