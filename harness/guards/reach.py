"""What a drill may reach, checked at load: loopback freely; anything else only with its ``environment:`` named,
at a capped rate, behind stop conditions that can see.

The harness talks to the Docker API and 127.0.0.1 unless a drill says otherwise: a drill whose target or guards
name another host (a staging gateway, the team's Prometheus) must say which environment that is (the console
asks for confirmation before it starts, ``--yes`` skips the question) and keeps its traffic at or under
``MAX_REMOTE_RATE`` requests/s: a drill is a rehearsal, not a load test of a shared environment.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.guards.spec import PromqlGuard, guard_hosts, is_loopback
from harness.spec.types import FieldError

if TYPE_CHECKING:
    from harness.guards.spec import ErrorBudgetGuard, HttpGuard
    from harness.spec.traffic import TrafficSpec
    from harness.spec.types import TargetBlock

MAX_REMOTE_RATE = 100.0  # requests/s at most against anything but loopback


def peak_rate(traffic: TrafficSpec) -> float:
    rates = [traffic.rate, *(s.rate for s in traffic.stages)]
    if traffic.start_rate is not None:
        rates.append(traffic.start_rate)
    return max(rates)


def remote_hosts(target: TargetBlock, guards: list[PromqlGuard | ErrorBudgetGuard | HttpGuard]) -> list[tuple[str, str]]:
    """(field, host) of every address of the drill's that is not loopback."""
    return [(where, host) for where, host in [*target.hosts(), *guard_hosts(guards)] if not is_loopback(host)]


def check_reach(target: TargetBlock, environment: str | None, traffic: TrafficSpec, sabotage: str,
                guards: list[PromqlGuard | ErrorBudgetGuard | HttpGuard]) -> None:
    """FieldError at the field at fault: a remote address without ``environment``, a rate over the cap, a guard
    that cannot see, two guards of one name, a sabotage of a stack drill did not start."""
    names: set[str] = set()
    for index, guard in enumerate(guards):
        if guard.name in names:
            raise FieldError(("stop_conditions", index, "name"), f"two stop conditions are named {guard.name!r}")
        names.add(guard.name)
        if isinstance(guard, PromqlGuard) and guard.prometheus is None and not target.answers_promql():
            raise FieldError(("stop_conditions", index, "prometheus"), f"target {target.kind!r} names no Prometheus: "
                             "give this guard's prometheus: URL (or the target's prometheus:)")
    remote = remote_hosts(target, guards)
    if remote and environment is None:
        where, host = remote[0]
        raise FieldError(("environment",), f"{where} reaches {host}, which is not loopback: name the environment "
                         "this drill runs against (environment: staging); it is asked for confirmation (or --yes)")
    if remote and target.hosts() and peak_rate(traffic) > MAX_REMOTE_RATE:
        raise FieldError(("traffic", "rate"), f"{peak_rate(traffic):g} requests/s against {remote[0][1]}: a drill aimed "
                         f"at anything but loopback sends at most {MAX_REMOTE_RATE:g} requests/s")
    if target.kind == "external" and sabotage != "none":
        raise FieldError(("sabotage",), "an external stack's way back is the team's: drill does not break it "
                         "(sabotage: none)")
