"""Before a drill aimed at anything but loopback starts: say where it goes, and ask (``--yes`` answers for CI).

Without a terminal to ask and without ``--yes`` the run is refused as bad input (exit 2): nothing has started.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

import typer

from harness.catalogue import LoadedDrill
from harness.errors import SpecError, SpecIssue
from harness.guards.reach import peak_rate, remote_hosts


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
