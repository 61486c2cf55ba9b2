"""A GameDay's plan, drills, runbooks and answers checked together, before anything starts (and for
``drill gameday PLAN --check`` and ``drill validate``): every problem at once, file and field named.

    prepared = prepare(plan_path, answers_path)   # SpecError (exit 2) with every issue
    for line in describe(prepared): print(line)    # what each drill will ask, in order
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from harness.engine.engine import resolve_profile
from harness.errors import SpecError, SpecIssue
from harness.programme.gameday_answers import Needs, check_answers, needs_of
from harness.programme.gameday_plan import GameDayAnswers, GameDayPlan, load_answers, load_plan
from harness.spec import catalogue, variables


def draw_surprise(plan: GameDayPlan) -> str | None:
    if plan.surprise is None:
        return None
    chooser = random.Random(plan.surprise.seed) if plan.surprise.seed is not None else random.SystemRandom()
    return chooser.choice(plan.surprise.from_)


@dataclass(frozen=True)
class Prepared:
    """A plan and its answers, checked: what each drill will ask (``needs``; the surprise's candidates apart)."""

    plan: GameDayPlan
    answers: GameDayAnswers | None
    needs: tuple[Needs, ...]
    surprise: tuple[Needs, ...]


def _check_drills(plan: GameDayPlan, path: Path, names: Sequence[str]) -> tuple[dict[str, Needs], list[SpecIssue]]:
    issues: list[SpecIssue] = []
    found: dict[str, Needs] = {}
    for name in dict.fromkeys(names):
        try:
            drill = catalogue.load_drill(name)
            resolve_profile(drill, plan.profile, manual=True)
            variables.check_drill(drill, {})
            found[name] = needs_of(drill)
        except SpecError as exc:
            issues += [SpecIssue(str(path), f"drills ({name}): {i.field}", i.message) for i in exc.issues]
    return found, issues


def prepare(plan_path: Path, answers_path: Path | None, today: date | None = None) -> Prepared:
    """Plan, drills, runbooks and answers, fully validated (SpecError, exit 2: every issue at once) before
    anything is started or written."""
    plan = load_plan(plan_path)
    candidates = list(plan.surprise.from_) if plan.surprise else []
    found, issues = _check_drills(plan, plan_path, [*plan.drills, *candidates])
    if plan.surprise is not None and plan.surprise.seed is not None:
        candidates = [draw_surprise(plan) or ""]  # a seeded draw is known: its list must fit that drill only
    planned = tuple(found[n] for n in plan.drills if n in found)
    surprise = tuple(found[n] for n in candidates if n in found)
    people = frozenset(p.name for p in plan.participants)
    answers = None
    if answers_path is not None:
        def lists(got: GameDayAnswers, text: str) -> list[SpecIssue]:
            if len(planned) != len(plan.drills) or len(surprise) != len(candidates):
                return []  # a drill that does not load is reported above; its answers cannot be judged
            return check_answers(got.drills, planned, surprise, answers_path, text, people)
        try:
            answers = load_answers(answers_path, plan, today, lists)
        except SpecError as exc:
            issues += exc.issues
    if issues:
        raise SpecError(issues)
    return Prepared(plan, answers, planned, surprise)


def describe(prepared: Prepared) -> list[str]:
    """What the day will run and what each drill asks of people, one line a drill (the surprise's candidates apart)."""
    plan = prepared.plan
    lines = [f"GameDay {plan.name}: " + ", ".join(f"{p.name} ({p.role})" for p in plan.participants)]
    for i, needs in enumerate(prepared.needs, 1):
        lines.append(f"  drill {i}: {needs.drill} (runbook {needs.runbook}) asks {needs.describe()}")
    seeded = plan.surprise is not None and plan.surprise.seed is not None
    for needs in prepared.surprise:  # a seeded draw is known, but its name stays hidden until the debrief
        lines.append(f"  the surprise (drawn by the seed, hidden until the debrief) asks {needs.describe()}" if seeded
                     else f"  surprise candidate {needs.drill} (runbook {needs.runbook}) asks {needs.describe()}")
    if prepared.answers is not None:
        lines.append(f"  answers: {len(prepared.answers.drills)} list(s), each as its drill asks; "
                     f"{len(prepared.answers.retrospective.actions)} action item(s)")
    else:
        lines.append("  answers: at the terminal (the incident commander decides, the operators confirm)")
    return lines
