"""How a run's outcome reads against what the drill expected: one label and one colour for every report.

A promoted control is a success (green), not "rolled back: no" in red; a drill built to fail (its
rollback path broken on purpose, ``expect: fail``) that failed is "failed as expected".
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.engine.results import DrillResult, RunStatus


@dataclass(frozen=True)
class Outcome:
    label: str  # e.g. "rolled back as expected", "failed as expected", "false rollback"
    css: str  # good | bad | warn: the colour class reports use
    as_expected: bool


def expectation(result: DrillResult) -> str:
    """rollback | promote | fail, as the engine recorded it from the drill's ``expect:`` (or its sabotage).
    The drill's name never decides; a report.json from before the engine filled it says rollback, and a
    decision to promote there means the drill expected one (the engine promotes only when told to)."""
    if result.expect == "rollback" and result.as_expected is None and result.decision == "promote":
        return "promote"
    return result.expect


def outcome(result: DrillResult) -> Outcome:
    """The label for a person; ``as_expected`` is the engine's verdict where the result carries one."""
    found = _label(result)
    if result.as_expected is None or result.as_expected == found.as_expected:
        return found
    if result.as_expected:  # the engine knows better than the label's rule (it should not happen)
        return Outcome(found.label, "good", True)
    if result.sabotage_reached is False:
        return Outcome("sabotage never reached", "bad", False)
    return Outcome(found.label, "bad", False)


def _label(result: DrillResult) -> Outcome:
    expect = expectation(result)
    status = result.status
    if status is RunStatus.ABORTED:
        return Outcome("aborted", "warn", False)
    if status is RunStatus.ERROR:
        return Outcome("error", "bad", False)
    if status is RunStatus.INCONCLUSIVE:
        return Outcome("inconclusive", "warn", False)
    if expect == "fail":
        if status is RunStatus.FAILED:
            return Outcome("failed as expected", "good", True)
        return Outcome("passed, but the drill expected a failure", "bad", False)
    if expect == "promote":
        return (Outcome("promoted as expected", "good", True) if status is RunStatus.PASSED
                else Outcome("false rollback" if result.rolled_back else "not promoted", "bad", False))
    return (Outcome("rolled back as expected", "good", True) if status is RunStatus.PASSED
            else Outcome("rollback failed" if result.decision == "rollback" else "not rolled back", "bad", False))


def rolled_back_css(result: DrillResult) -> str:
    """Colour of the 'rolled back' fact: green when it is what the drill wanted, red when not, plain if n/a."""
    expect = expectation(result)
    if expect == "fail":
        return ""
    return "good" if result.rolled_back == (expect == "rollback") else "bad"


def by_node_text(placed: dict[str, dict[str, int]] | None) -> str:
    """``stable: node-1 x1, node-2 x1; candidate: node-3 x1`` (where a multi-node swarm ran the replicas)."""
    return "; ".join(f"{slot}: " + ", ".join(f"{node} x{n}" for node, n in nodes.items())
                     for slot, nodes in (placed or {}).items())


def decided_by_label(decided_by: str | None, decider: str | None, trigger: str | None) -> str:
    """Who decided, in words, for every report: "person: Ana", "answers file (for Ana)", "automation", "—".

    A run recorded before the store kept the source says only its trigger ("manual": a person, unnamed)."""
    if decided_by == "answers-file":
        return "answers file" + (f" (for {decider})" if decider else "")
    if decided_by == "person" or (decided_by is None and trigger == "manual"):
        return f"person: {decider or 'unnamed'}"
    return "automation" if decided_by == "automation" or trigger == "automated" else "—"
