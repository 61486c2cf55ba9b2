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

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, model_validator

from harness.errors import SpecError, SpecIssue
from harness.spec import catalogue
from harness.spec.models import line_of as _line_of
from harness.spec.models import load_yaml, parse_model
from harness.spec.types import Name, Strict
from harness.store.codec import MAX_YEAR

Role = Literal["incident-commander", "operator", "scribe"]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class ParticipantSpec(Strict):
    name: Text
    role: Role


class SurpriseSpec(Strict):
    """One scenario drawn at random from ``from``; its name is shown only at the debrief."""

    from_: list[str] = Field(alias="from", min_length=1)
    seed: int | None = None  # a fixed seed makes the draw reproducible (tests, a re-run)


class GameDayPlan(Strict):
    name: Name
    description: str = ""
    participants: list[ParticipantSpec] = Field(min_length=1)
    drills: list[str] = Field(default_factory=list)
    surprise: SurpriseSpec | None = None
    profile: str = "ci"  # the drills' profile; the decision is always a person's (as --manual)

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
    what: Text
    owner: Text
    due: date


class RetrospectiveSpec(Strict):
    went_well: list[Text] = Field(default_factory=list)
    went_badly: list[Text] = Field(default_factory=list)
    actions: list[ActionSpec] = Field(default_factory=list)


class GameDayAnswers(Strict):
    drills: list[list[str]] = Field(default_factory=list)
    retrospective: RetrospectiveSpec


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


def load_answers(path: Path, plan: GameDayPlan, today: date | None = None) -> GameDayAnswers:
    answers = parse_model(path, GameDayAnswers)
    _, text = load_yaml(path)
    check_retrospective(answers.retrospective, plan, str(path), text, today)
    return answers
