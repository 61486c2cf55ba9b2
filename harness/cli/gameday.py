"""`drill gameday PLAN.yaml [--answers FILE]`: a GameDay, people deciding and acting, then a retrospective.

Exit 0 when every drill of the day ended as it expected, 1 when one did not; bad input (an unknown role,
a surprise set naming a missing drill, an owner who is not a participant, a due date out of range) exits 2
naming file and field, before anything starts or is written.
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
    yes: Annotated[bool, typer.Option("--yes", help="Confirm drills aimed at an environment beyond loopback "
                                      "(their environment: field) without asking")] = False,
) -> None:
    """Run a GameDay: the alert, the timed decision and the manual steps for each drill, then the debrief."""
    from harness.cli.confirm import confirm_reach
    from harness.listeners.console import PlainConsole
    from harness.programme.gameday import run_gameday

    with mapped_errors():
        done = run_gameday(plan, answers, store, report_dir, [PlainConsole(sys.stderr)],
                           confirm=lambda drills: confirm_reach(drills, yes))
    record = done.record
    typer.echo(f"GameDay {record.gameday_id}: {len(done.results)} drill(s), "
               f"{sum(r.status.value == 'passed' for r in done.results)} passed; "
               + (f"surprise was {record.surprise_drill}; " if record.surprise_drill else "")
               + f"{len(record.actions)} action item(s)")
    for r in done.results:
        typer.echo(f"  {r.drill}: {r.status.value} — {r.reason}")
    typer.echo(f"report: drill report --gameday {record.gameday_id}")
    raise typer.Exit(int(ExitStatus.OK if done.as_expected else ExitStatus.DRILL_FAILED))


def register(app: typer.Typer) -> None:
    app.command("gameday")(gameday)
