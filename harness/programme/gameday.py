"""Running a GameDay: the drills with people deciding (as ``--manual``), a surprise, the log, a retrospective.

    outcome = run_gameday(plan_path, answers_path, store_url, report_root, listeners)

Everything is validated before anything starts: the plan (roles, drills, surprise set), the answers file
(owners, due dates), every drill (profile, variables). Each drill run is an ordinary recorded run carrying
the GameDay's id; the GameDay itself (people, log, retrospective, action items) is stored once at the end,
also when the day is interrupted (then with what happened so far).
"""

from __future__ import annotations

import io
import random
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TextIO

from pydantic import ValidationError

from harness import api
from harness.engine.engine import RunOptions, new_run_id, resolve_profile
from harness.engine.events import Decided, Event, Listener, RunFinished, RunStarted, StepEnded
from harness.engine.human import HumanInput
from harness.engine.results import DrillResult
from harness.errors import SpecError, SpecIssue
from harness.programme.gameday_plan import (
    ActionSpec,
    GameDayAnswers,
    GameDayPlan,
    RetrospectiveSpec,
    check_retrospective,
    load_answers,
    load_plan,
)
from harness.report.outcome import outcome
from harness.spec import catalogue, variables
from harness.store import ActionItem, GameDayRecord, LogEntry, Participant, Store

SURPRISE = "surprise scenario"


@dataclass(frozen=True)
class GameDayOutcome:
    record: GameDayRecord
    results: tuple[DrillResult, ...]

    @property
    def as_expected(self) -> bool:
        return all(outcome(r).as_expected for r in self.results)


class _Scribe:
    """Listens to each drill run and writes the GameDay log: who did what, when."""

    def __init__(self, plan: GameDayPlan) -> None:
        self.ic, self.operator, self.scribe = (plan.person(r) for r in ("incident-commander", "operator", "scribe"))
        self.entries: list[LogEntry] = []
        self.label = ""

    def note(self, role: str, person: str, message: str, at: datetime | None = None) -> None:
        self.entries.append(LogEntry(at or datetime.now(UTC), role, person, message))

    def on_event(self, event: Event) -> None:
        match event:
            case RunStarted(run_id=run_id):
                self.note("scribe", self.scribe, f"{self.label} started (run {run_id})", event.at)
            case Decided(decision=decision, trigger=trigger):
                who = ("incident-commander", self.ic) if trigger == "manual" else ("scribe", self.scribe)
                what = f"decided {decision}" if trigger == "manual" else f"{decision} decided {trigger or 'by nobody'}"
                self.note(*who, f"{self.label}: {what}", event.at)
            case StepEnded(result=step) if step.manual:
                self.note("operator", self.operator, f"{self.label}: manual step {step.name} {step.status.value}",
                          step.ended_at or event.at)
            case RunFinished(result=r):
                took = r.decision_to_completion_s
                timing = "" if took is None else f"; decision to completion {took:.1f}s against {r.target_s:g}s"
                self.note("scribe", self.scribe, f"{self.label} ended {r.status.value} "
                          f"({outcome(r).label}){timing}", event.at)


class _Masked:
    """Passes events to the console with the surprise drill's name hidden until the debrief."""

    def __init__(self, inner: Listener, name: str) -> None:
        self.inner, self.name = inner, name

    def on_event(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            event = replace(event, drill=SURPRISE)
        elif isinstance(event, RunFinished):
            event = replace(event, result=replace(event.result, drill=SURPRISE))
        self.inner.on_event(event)


def draw_surprise(plan: GameDayPlan) -> str | None:
    if plan.surprise is None:
        return None
    chooser = random.Random(plan.surprise.seed) if plan.surprise.seed is not None else random.SystemRandom()
    return chooser.choice(plan.surprise.from_)


def _check_drills(plan: GameDayPlan, path: Path, names: Sequence[str]) -> None:
    issues: list[SpecIssue] = []
    for name in names:
        try:
            drill = catalogue.load_drill(name)
            resolve_profile(drill, plan.profile, manual=True)
            variables.check_drill(drill, {})
        except SpecError as exc:
            issues += [SpecIssue(str(path), f"drills ({name}): {i.field}", i.message) for i in exc.issues]
    if issues:
        raise SpecError(issues)


def prepare(plan_path: Path, answers_path: Path | None, today: date | None = None
            ) -> tuple[GameDayPlan, GameDayAnswers | None]:
    """Plan and answers, fully validated (SpecError, exit 2) before anything is started or written."""
    plan = load_plan(plan_path)
    answers = load_answers(answers_path, plan, today) if answers_path is not None else None
    everything = [*plan.drills, *(plan.surprise.from_ if plan.surprise else [])]
    _check_drills(plan, plan_path, everything)
    return plan, answers


def _items(human: HumanInput, question: str) -> list[str]:
    out: list[str] = []
    while (line := human.text(f"{question} (one a line, '.' to finish) > ")) not in (None, "."):
        out.append(line)
    return out


def ask_retrospective(human: HumanInput, plan: GameDayPlan) -> RetrospectiveSpec:
    """The retrospective typed at the terminal; a bad action item is asked again, never stored."""
    well = _items(human, "What went well?")
    badly = _items(human, "What did not go well?")
    actions: list[ActionSpec] = []
    while (line := human.text("Action item: WHAT | OWNER | DUE (YYYY-MM-DD), '.' to finish > ")) not in (None, "."):
        parts = [part.strip() for part in line.split("|")]
        try:
            if len(parts) != 3:
                raise ValueError("expected three parts separated by |")
            item = ActionSpec(what=parts[0], owner=parts[1], due=date.fromisoformat(parts[2]))
            check_retrospective(RetrospectiveSpec(actions=[item]), plan, "<stdin>")
        except (ValueError, ValidationError, SpecError) as exc:
            human.prompt(f"  not taken: {exc}")
            continue
        actions.append(item)
    return RetrospectiveSpec(went_well=well, went_badly=badly, actions=actions)


def run_gameday(plan_path: Path, answers_path: Path | None, store_url: str | None, report_root: Path,
                console: Sequence[Listener] = (), stdin: TextIO | None = None) -> GameDayOutcome:
    """Run the plan's drills (and the surprise, last), then the retrospective; store it all."""
    plan, answers = prepare(plan_path, answers_path)
    surprise = draw_surprise(plan)
    api.check_report_root(report_root)
    Store.open(store_url).close()  # an unreachable store fails here (exit 3), before any drill starts
    if answers is not None:
        human = HumanInput(io.StringIO("\n".join(line for drill in answers.drills for line in drill) + "\n"))
    else:
        human = HumanInput(stdin) if stdin is not None else HumanInput()
    started = datetime.now(UTC)
    gameday_id = f"{started:%Y%m%dT%H%M%SZ}-{plan.name}-{secrets.token_hex(3)}"
    scribe = _Scribe(plan)
    scribe.note("incident-commander", scribe.ic, f"GameDay {plan.name} opened: incident commander {scribe.ic}, "
                f"operator {scribe.operator}, scribe {scribe.scribe}", started)
    results: list[DrillResult] = []
    retro = RetrospectiveSpec()
    order = [(name, False) for name in plan.drills] + ([(surprise, True)] if surprise else [])
    try:
        for number, (name, hidden) in enumerate(order, 1):
            scribe.label = f"drill {number} ({SURPRISE if hidden else name})"
            listeners: list[Listener] = [scribe, *(_Masked(c, name) if hidden else c for c in console)]
            options = RunOptions(profile=plan.profile, report_root=report_root, manual=True, human=human,
                                 run_id=new_run_id("gameday-surprise" if hidden else name))
            results.append(api.run_drill(name, options, listeners, store_url=store_url, gameday_id=gameday_id))
        if surprise:
            scribe.note("scribe", scribe.scribe, f"debrief: the surprise scenario was {surprise}")
        retro = answers.retrospective if answers is not None else ask_retrospective(human, plan)
        scribe.note("scribe", scribe.scribe, f"retrospective: {len(retro.went_well)} went well, "
                    f"{len(retro.went_badly)} did not, {len(retro.actions)} action item(s)")
    finally:
        record = GameDayRecord(
            gameday_id, plan.name, str(plan_path), started, datetime.now(UTC), surprise,
            tuple(Participant(p.name, p.role) for p in plan.participants), tuple(retro.went_well),
            tuple(retro.went_badly), tuple(ActionItem(a.what, a.owner, a.due) for a in retro.actions),
            tuple(scribe.entries))
        with Store.open(store_url) as store:
            store.record_gameday(record)
    return GameDayOutcome(record, tuple(results))
