"""report.md: one run, for a wiki or an ops binder."""

from __future__ import annotations

from pathlib import Path

from harness.engine.results import DrillResult, Evidence, iso
from harness.report import stop
from harness.report.escape import md, md_code
from harness.report.outcome import by_node_text, decided_by_label, expectation, outcome


def _fmt(value: float | None, unit: str = "s") -> str:
    return "—" if value is None else f"{value:.2f} {unit}"


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:.4g}"


def pass_bound(e: Evidence) -> str:
    """What a pass rests on: the upper bound (at the check's alpha) of how much worse the candidate's event rate is
    than the baseline's, against the margin; a look passes only below it ("—" where the check has none)."""
    if e.margin is None or e.excess_upper is None:
        return "—"
    return f"≤ {e.excess_upper * 100:+.1f} pts (margin {e.margin * 100:g})"


def render(result: DrillResult) -> str:
    ts = result.timestamps
    mark = "PASSED" if result.passed else result.status.value.upper()
    verdict = outcome(result)
    lines = [
        f"# Rollback drill {md_code(result.drill)} — {mark} ({md(verdict.label)})",
        "",
        f"- run: {md_code(result.run_id)} (profile {md_code(result.profile)}); the drill expected: {md(expectation(result))}",
        f"- outcome: {md(result.reason)}",
        f"- model: {md_code(result.model)}, stable {md_code(result.stable_version)}, "
        f"candidate {md_code(result.candidate_version)}",
        f"- decision: {md(result.decision or '—')} ({md(result.trigger or '—')}), decided by "
        f"{md(decided_by_label(result.decided_by, result.decider, result.trigger))}, root cause class: {md(result.root_cause)}",
        f"- serving after: {md_code(result.serving_version_after)}",
        *(["- **not in the store**: the metrics store did not take this run's row (the run exited 3)"]
          if result.recorded is False else []),
        *([f"- replicas by node: {md(by_node_text(result.replicas_by_node))}"] if result.replicas_by_node else []),
        *([f"- replicas by node before the node loss: {md(by_node_text(result.replicas_by_node_before))}"]
          if result.replicas_by_node_before else []),
        "",
        "## Timing against the target",
        "",
        "| measure | value |",
        "|---|---|",
        f"| detect (deployed → decision) | {_fmt(result.detect_s)} |",
        f"| decision → verified completion | {_fmt(result.decision_to_completion_s)} |",
        f"| deploy → recovery | {_fmt(result.deploy_to_recovery_s)} |",
        f"| target | {result.target_s:g} s ({result.target_s / 60:g} min) |",
        f"| within target | {'yes' if result.within_target else 'no' if result.within_target is False else '—'} |",
        "",
        "| moment | time (UTC) |",
        "|---|---|",
    ]
    for name in ("deployed_at", "first_breach_at", "decision_at", "rollback_started_at", "completed_at"):
        lines.append(f"| {name} | {iso(getattr(ts, name)) or '—'} |")
    if result.stopped_by is not None:
        lines += ["", "## Stopped by a stop condition", "", *(f"- {label}: {md(value)}" for label, value in stop.summary(result))]
        lines += ["", "| " + " | ".join(stop.HEADERS) + " |", "|---|---|---|---|",
                  *(f"| {md_code(argv)} | {md(how)} | {took} | {md(last)} |" for argv, how, took, last in stop.commands(result))]
    if result.stages:
        lines += ["", "## Stages", "", md(caught_text(result)), "",
                  "| stage | budget | started (UTC) | decided (UTC) | decision | client answers by the candidate | evidence |",
                  "|---|---|---|---|---|---|---|"]
        for st in result.stages:
            lines.append(f"| {md(st.label)} | {st.max_wait_s:g} s | {iso(st.started_at) or '—'} | {iso(st.decided_at) or '—'} | "
                         f"{md(st.decision)} | {st.candidate_answers_served} | {md(st.summary or '—')} |")
    if result.evidence:
        lines += ["", "## Evidence behind the decision", "",
                  "| metric | verdict | canary | baseline | limit | samples (min) | worse by at most |",
                  "|---|---|---|---|---|---|---|"]
        for e in result.evidence:
            lines.append(f"| {md(e.metric)} | {md(e.verdict)} | {_num(e.canary_value)} | {_num(e.baseline_value)} | "
                         f"{_num(e.threshold)} | {_num(e.samples)} ({e.min_samples}) | {pass_bound(e)} |")
    if result.steps:
        lines += ["", "## Runbook steps", "", "| step | action | status | duration | attempts | detail |",
                  "|---|---|---|---|---|---|"]
        for s in result.steps:
            lines.append(f"| {md(s.name)} | {md_code(s.action)} | {s.status.value} | {_fmt(s.duration_s)} | {s.attempts} "
                         f"| {md(s.error or s.detail)} |")
    if result.adversity:
        lines += ["", "## Adversity on the way back", "", "| fault | at | struck | for | steps it met (status, attempts, s) |",
                  "|---|---|---|---|---|"]
        for f in result.adversity:
            met = ", ".join(f"{a.step} ({a.status}, {a.attempts}, {_fmt(a.duration_s)})" for a in f.absorbed_by) or "—"
            lines.append(f"| {md(f.kind)} | {md(f.at)} | {md(f.target)} | {_fmt(f.active_s)} | {md(met + (' ' + f.error if f.error else ''))} |")
    if result.traffic:
        t = result.traffic
        lines += ["", "## Traffic (client-side truth)", "",
                  f"- requests: {t.requests}, failed: {t.failed}, failed during rollback: {t.failed_during_rollback}",
                  f"- bad responses served by the candidate: {t.bad_responses_served} "
                  f"({t.bad_responses_during_rollback} of them after the rollback started, before the drain took effect)"
                  + (f"; by kind: {', '.join(f'{md(k)} {v}' for k, v in t.bad_responses_by_kind.items())}"
                     if t.bad_responses_by_kind else ""),
                  f"- error rate at baseline: {t.baseline_error_rate:.2%}, after: "
                  + ("—" if t.after_error_rate is None else f"{t.after_error_rate:.2%}"),
                  f"- by version: {', '.join(f'{md(k)}: {v}' for k, v in sorted(t.by_version.items()))}"]
        if t.shadow is not None:
            lines.append(f"- shadow: {t.shadow.get('mirrored', 0)} requests mirrored, {t.shadow.get('paired', 0)} pairs judged, "
                         f"{t.shadow.get('candidate_answers_served', 0)} candidate answers served to clients")
    lines += ["", "## Phases", "", "| phase | duration | status |", "|---|---|---|"]
    lines += [f"| {md(p.name)} | {_fmt(p.duration_s)} | {md(p.status)} |" for p in result.phases]
    return "\n".join(lines) + "\n"


def caught_text(result: DrillResult) -> str:
    """Which stage caught the candidate, and whether any client saw it, in words (report.md and report.html)."""
    caught = result.caught_in
    if caught is None:
        return "No stage caught the candidate." + (" It passed every stage and was promoted." if result.decision == "promote" else "")
    if caught.kind == "shadow" and caught.candidate_answers_served == 0:
        return f"Caught in the {caught.label} stage: no client ever saw the candidate (client answers served by it: 0)."
    served = sum(st.candidate_answers_served for st in result.stages)
    return f"Caught in the {caught.label} stage, after the candidate served {served} client answers."


def write(result: DrillResult, directory: Path) -> Path:
    path = directory / "report.md"
    path.write_text(render(result), encoding="utf-8")
    return path
