"""`drill gameday PLAN.yaml [--answers FILE]`: a GameDay, people deciding and acting, then a retrospective.

Exit 0 when every drill of the day ended as it expected, 1 when one did not; bad input (an unknown role,
a surprise set naming a missing drill, an answer that is not one, an answer list that does not fit its drill,
an owner who is not a participant, a due date out of range) exits 2 naming file and field, before anything
starts or is written; Docker unreachable exits 3 before the GameDay is opened. ``--check`` validates only.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from harness.cli.common import StoreOpt, mapped_errors
from harness.exit_codes import ExitStatus


def gameday(
    plan: Annotated[Path, typer.Argument(metavar="PLAN.yaml", help="Participants, roles, drills, surprise set.")],
    answers: Annotated[Path | None, typer.Option(
        "--answers", help="YAML: each drill's prompt answers and the retrospective (a rehearsal, a CI run).")] = None,
    report_dir: Annotated[Path, typer.Option("--report-dir", help="Where reports/<run-id>/ go")] = Path("reports"),
    store: StoreOpt = None,
    check: Annotated[bool, typer.Option(
        "--check", help="Only check the plan, its drills and runbooks, and the answers file; start nothing.")] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Confirm drills aimed at an environment beyond loopback "
                                      "(their environment: field) without asking")] = False,
) -> None:
    """Run a GameDay: the alert, the timed decision and the manual steps for each drill, then the debrief."""
    from harness.cli.confirm import confirm_reach
    from harness.engine.signals import terminating_on_sigterm
    from harness.listeners.console import PlainConsole
    from harness.programme.gameday import run_gameday
    from harness.programme.gameday_check import describe, prepare

    if check:
        with mapped_errors():
            prepared = prepare(plan, answers)
        for line in describe(prepared):
            typer.echo(line)
        typer.echo(f"ok: {plan}" + (f" and {answers}" if answers else "") + " (nothing started)")
        raise typer.Exit(int(ExitStatus.OK))
    with mapped_errors(), terminating_on_sigterm():  # between drills too: the day is then stored as it stood
        done = run_gameday(plan, answers, store, report_dir, [PlainConsole(sys.stderr)],
                           confirm=lambda drills: confirm_reach(drills, yes))
    record = done.record
    typer.echo(f"GameDay {record.gameday_id}: {len(done.results)} drill(s), "
               f"{sum(r.status.value == 'passed' for r in done.results)} passed; "
               + (f"surprise was {record.surprise_drill}; " if record.surprise_drill else "")
               + f"{len(record.actions)} action item(s)")
    for r in done.results:
        who = {"person": f"decided by {r.decider or 'a person'}", "answers-file": "decided from the answers file",
               "automation": "decided by automation"}.get(r.decided_by or "", "no decision")
        alert = "" if r.alert_to_decision_s is None else f", {r.alert_to_decision_s:.1f} s after the alert"
        typer.echo(f"  {r.drill}: {r.status.value} — {r.reason} ({who}{alert})")
    typer.echo(f"report: drill report --gameday {record.gameday_id}")
    raise typer.Exit(int(ExitStatus.OK if done.as_expected else ExitStatus.DRILL_FAILED))


def register(app: typer.Typer) -> None:
    app.command("gameday")(gameday)
