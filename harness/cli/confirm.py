"""Before a drill aimed at anything but loopback starts: say where it goes, and ask (``--yes`` answers for CI).

Without a terminal to ask and without ``--yes`` the run is refused as bad input (exit 2): nothing has started.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

import typer

from harness.errors import SpecError, SpecIssue
from harness.guards.reach import peak_rate, remote_hosts
from harness.spec.catalogue import LoadedDrill


def what_it_reaches(drill: LoadedDrill) -> str | None:
    """One line naming the environment and the hosts, or None when the drill reaches only loopback."""
    spec = drill.spec
    remote = remote_hosts(spec.target, spec.stop_conditions)
    if not remote:
        return None
    hosts = ", ".join(dict.fromkeys(host for _, host in remote))
    return (f"drill {spec.name} runs against environment {spec.environment!r} ({hosts}): up to "
            f"{peak_rate(spec.traffic):g} requests/s, and the team's own commands")


def confirm_reach(drills: Sequence[LoadedDrill], yes: bool, interactive: bool | None = None,
                  ask: Callable[[str], bool] = lambda q: typer.confirm(q, default=False, err=True)) -> None:
    """SpecError unless every drill that reaches beyond loopback was confirmed (or ``yes``)."""
    if yes:
        return
    can_ask = sys.stdin.isatty() if interactive is None else interactive
    for drill in drills:
        line = what_it_reaches(drill)
        if line is None:
            continue
        if not can_ask:
            raise SpecError(SpecIssue(str(drill.drill_path), "environment",
                                      f"{line}: confirm with --yes (there is no terminal to ask)"))
        if not ask(f"{line}. Start it?"):
            raise SpecError(SpecIssue(str(drill.drill_path), "environment", f"{line}: not confirmed; nothing started"))


def external_plan(drill: LoadedDrill) -> list[str]:
    """The plan's prepare lines for an external target: nothing started, and the team's commands per move."""
    from harness.targets.external.spec import ExternalTargetSpec

    target = drill.spec.target
    assert isinstance(target, ExternalTargetSpec)
    where = f"environment {drill.spec.environment}" if drill.spec.environment else "loopback"
    lines = [f"  prepare: nothing started: the team's stack at {target.url} ({where}); versions read from "
             + (f"header {target.version.header}" if target.version.header else f"JSON field {target.version.json_field}")]
    for move in ("deploy", "promote", "rollback", "abort"):
        for command in getattr(target, move):
            lines.append(f"           {move}: {' '.join(command.argv)}")
    return lines


def stop_plan(drill: LoadedDrill) -> list[str]:
    """One line per stop condition for the plan."""
    from harness.guards.spec import ErrorBudgetGuard, PromqlGuard

    lines = []
    for guard in drill.spec.stop_conditions:
        if isinstance(guard, PromqlGuard):
            what = (f"{guard.query} > {guard.above:g}" if guard.above is not None else f"{guard.query} < {guard.below:g}")
        elif isinstance(guard, ErrorBudgetGuard):
            what = f"client errors > {guard.max_error_rate:.1%}"
        else:
            what = f"GET {guard.url} answers other than {', '.join(map(str, guard.expect_status))}"
        lines.append(f"  stop condition {guard.name}: {what} ({guard.breaches} bad look(s) in a row, every {guard.interval:g}s)")
    return lines
