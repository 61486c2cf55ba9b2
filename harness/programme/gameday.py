"""Running a GameDay: the drills with people deciding (as ``--manual``), a surprise, the log, a retrospective.

    outcome = run_gameday(plan_path, answers_path, store_url, report_root, listeners)

Everything is validated before anything starts: the plan (roles, drills, surprise set), every drill (profile,
variables), and the answers file (each list against what its drill asks, owners, due dates; see
``gameday_answers``). Each drill run is an ordinary recorded run carrying the GameDay's id and who decided;
the GameDay itself (people, log, retrospective, action items) is stored once at the end, also when the day
stops early (then marked aborted, with why). A day that cannot start (Docker unreachable) is not stored.
"""

from __future__ import annotations

import io
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Protocol, TextIO

from pydantic import ValidationError

from harness import api
from harness.engine.engine import RunOptions, new_run_id
from harness.engine.events import Alerted, Decided, Event, Listener, RunFinished, RunStarted, StepEnded
from harness.engine.human import HumanInput
from harness.engine.results import DrillResult
from harness.errors import BackendUnavailable, DrillError, SpecError
from harness.outcomes import DecidedBy
from harness.programme.gameday_check import Prepared, prepare
from harness.programme.gameday_check import draw_surprise as draw_surprise  # re-exported
from harness.programme.gameday_plan import (
    ActionSpec,
    GameDayPlan,
    RetrospectiveSpec,
    check_retrospective,
)
from harness.report.outcome import outcome
from harness.spec import catalogue
from harness.spec.catalogue import LoadedDrill
from harness.store import ActionItem, GameDayRecord, LogEntry, Participant, Store
from harness.store.gamedays import ABORTED
from harness.store.text import plain

SURPRISE = "surprise scenario"


@dataclass(frozen=True)
class GameDayOutcome:
    record: GameDayRecord
    results: tuple[DrillResult, ...]

    @property
    def as_expected(self) -> bool:
        return all(outcome(r).as_expected for r in self.results)


HARNESS = ("harness", "drill")  # the harness's own bookkeeping: never credited to a participant


class _Scribe:
    """Listens to each drill run and writes the GameDay log: who did what, when. The alert, each decision
    by whoever made it (a person, the answers file standing in for one, or automation), each manual step by
    the participant who did it, and the results; the harness's bookkeeping is the harness's."""

    def __init__(self, plan: GameDayPlan) -> None:
        self.plan = plan
        self.ic, self.operator, self.scribe = (plan.person(r) for r in ("incident-commander", "operator", "scribe"))
        self.entries: list[LogEntry] = []
        self.label = ""
        self.source = DecidedBy.PERSON  # where this drill's answers come from

    def note(self, role: str, person: str, message: str, at: datetime | None = None) -> None:
        self.entries.append(LogEntry(at or datetime.now(UTC), role, person, message))

    def role_of(self, person: str, default: str) -> str:
        roles = [p.role for p in self.plan.participants if p.name == person]
        return default if default in roles or not roles else roles[0]

    def _by(self, person: str, default_role: str) -> tuple[str, str]:
        """(role, person) for an answer: the answers file is named as such, never passed off as the person."""
        if self.source is DecidedBy.ANSWERS_FILE:
            return "answers-file", person
        return self.role_of(person, default_role), person

    def on_event(self, event: Event) -> None:
        match event:
            case RunStarted(run_id=run_id):
                self.note(*HARNESS, f"{self.label} started (run {run_id})", event.at)
            case Alerted(message=message):
                self.note(*HARNESS, f"{self.label}: {message}; incident commander {self.ic} alerted", event.at)
            case Decided(decision=decision, trigger=trigger, by=by, decider=decider, alerted_at=alerted_at):
                took = "" if alerted_at is None else f", {(event.at - alerted_at).total_seconds():.1f} s after the alert"
                if by is DecidedBy.AUTOMATION:
                    why = "nobody decided: rolled back by default" if alerted_at is not None else (
                        f"decided {trigger or 'by nobody'}")
                    self.note("automation", "drill", f"{self.label}: {decision}, {why}{took}", event.at)
                else:
                    role, person = self._by(decider or self.ic, "incident-commander")
                    said = (f"{decision} read from the answers file for {person}, not decided by a person"
                            if role == "answers-file" else f"decided {decision}")
                    self.note(role, person, f"{self.label}: {said}{took}", event.at)
            case StepEnded(result=step) if step.manual:
                at = step.ended_at or event.at
                if step.status.value == "failed" and (step.error or "").startswith("no confirmation"):
                    self.note(*HARNESS, f"{self.label}: manual step {step.name} failed: {step.error}", at)
                else:
                    role, person = self._by(step.by or self.operator, "operator")
                    where = " (from the answers file)" if role == "answers-file" else ""
                    self.note(role, person, f"{self.label}: manual step {step.name} {step.status.value}{where}", at)
            case RunFinished(result=r):
                d2c = r.decision_to_completion_s
                timing = "" if d2c is None else f"; decision to completion {d2c:.1f}s against {r.target_s:g}s"
                self.note(*HARNESS, f"{self.label} ended {r.status.value} ({outcome(r).label}){timing}", event.at)


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


class DrillRunner(Protocol):
    """How a GameDay runs its drills (the seam a unit test fills with a fake target)."""

    def check(self) -> None:
        """Raise BackendUnavailable (exit 3) when no drill could run: the GameDay is then not opened at all."""

    def run(self, name: str, options: RunOptions, listeners: Sequence[Listener], store_url: str | None,
            gameday_id: str) -> DrillResult: ...


class DockerRunner:
    """The real thing: each drill through ``api.run_drill`` against the Docker engine."""

    def check(self) -> None:
        from harness.stack.docker_api import connect

        connect().close()

    def run(self, name: str, options: RunOptions, listeners: Sequence[Listener], store_url: str | None,
            gameday_id: str) -> DrillResult:
        return api.run_drill(name, options, listeners, store_url=store_url, gameday_id=gameday_id)


def _items(human: HumanInput, question: str) -> list[str]:
    out: list[str] = []
    while (line := human.text(f"{question} (one a line, '.' to finish) > ")) not in (None, "."):
        try:
            out.append(plain(line))
        except ValueError as exc:  # an ESC or a NUL typed or pasted in: asked again, never stored
            human.prompt(f"  not taken: {exc}")
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


def _inputs(prepared: Prepared, count: int, stdin: TextIO | None) -> list[HumanInput]:
    """One input per drill: each drill reads its own answer list, so no answer can slip into the next drill."""
    ic = prepared.plan.person("incident-commander")
    if prepared.answers is not None:
        return [HumanInput(io.StringIO("\n".join(answers) + "\n"), source=DecidedBy.ANSWERS_FILE, who=ic)
                for answers in prepared.answers.drills[:count]]
    shared = HumanInput(stdin, who=ic) if stdin is not None else HumanInput(who=ic)
    return [shared] * count


def run_gameday(plan_path: Path, answers_path: Path | None, store_url: str | None, report_root: Path,
                console: Sequence[Listener] = (), stdin: TextIO | None = None,
                runner: DrillRunner | None = None,
                confirm: Callable[[list[LoadedDrill]], None] = lambda _drills: None) -> GameDayOutcome:
    """Run the plan's drills (and the surprise, last), then the retrospective; store it all. A day that stops
    early (Ctrl-C, Docker gone mid-day) is stored as aborted with its reason; one that cannot start (Docker
    unreachable) is not stored at all. ``confirm`` sees every drill that may run (the surprise set too) before
    anything starts: the CLI asks for those beyond loopback."""
    runner = runner or DockerRunner()
    prepared = prepare(plan_path, answers_path)
    plan, answers = prepared.plan, prepared.answers
    confirm([catalogue.load_drill(n) for n in dict.fromkeys([*plan.drills, *(plan.surprise.from_ if plan.surprise else [])])])
    surprise = draw_surprise(plan)
    api.check_report_root(report_root)
    Store.open(store_url).close()  # an unreachable store fails here (exit 3), before any drill starts
    runner.check()  # Docker unreachable: exit 3 before the GameDay is opened (nothing is recorded)
    order = [(name, False) for name in plan.drills] + ([(surprise, True)] if surprise else [])
    inputs = _inputs(prepared, len(order), stdin)
    started = datetime.now(UTC)
    gameday_id = f"{started:%Y%m%dT%H%M%SZ}-{plan.name}-{secrets.token_hex(3)}"
    scribe = _Scribe(plan)
    scribe.note(*HARNESS, f"GameDay {plan.name} opened: incident commander {scribe.ic}, operator(s) "
                f"{', '.join(p.name for p in plan.participants if p.role == 'operator')}, scribe {scribe.scribe}"
                + ("; answers from the answers file " + str(answers_path) if answers is not None else ""), started)
    results: list[DrillResult] = []
    retro = RetrospectiveSpec()
    status, reason = "completed", None
    try:
        for number, ((name, hidden), human) in enumerate(zip(order, inputs, strict=True), 1):
            scribe.label, scribe.source = f"drill {number} ({SURPRISE if hidden else name})", human.source
            listeners: list[Listener] = [scribe, *(_Masked(c, name) if hidden else c for c in console)]
            options = RunOptions(profile=plan.profile, report_root=report_root, manual=True, human=human,
                                 run_id=new_run_id("gameday-surprise" if hidden else name))
            results.append(runner.run(name, options, listeners, store_url, gameday_id))
        if surprise:
            scribe.note(*HARNESS, f"debrief: the surprise scenario was {surprise}")
        retro = answers.retrospective if answers is not None else ask_retrospective(inputs[-1] if inputs else
                                                                                    HumanInput(stdin), plan)
        scribe.note(*HARNESS, f"retrospective: {len(retro.went_well)} went well, "
                    f"{len(retro.went_badly)} did not, {len(retro.actions)} action item(s)")
    except BaseException as exc:  # recorded as aborted with its reason, then raised (exit 3, 130, ...)
        status, reason = ABORTED, _why(exc)
        scribe.note(*HARNESS, f"GameDay aborted during {scribe.label or 'the start'}: {reason}")
        raise
    finally:
        record = GameDayRecord(
            gameday_id, plan.name, str(plan_path), started, datetime.now(UTC), surprise,
            tuple(Participant(p.name, p.role) for p in plan.participants), tuple(retro.went_well),
            tuple(retro.went_badly), tuple(ActionItem(a.what, a.owner, a.due) for a in retro.actions),
            tuple(scribe.entries), status, reason)
        with Store.open(store_url) as store:
            store.record_gameday(record)
    return GameDayOutcome(record, tuple(results))


def _why(exc: BaseException) -> str:
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted (Ctrl-C or SIGTERM)"
    if isinstance(exc, BackendUnavailable):
        return f"environment: {exc}"
    return f"{type(exc).__name__}: {exc}" if not isinstance(exc, DrillError) else str(exc)
