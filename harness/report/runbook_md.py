"""A runbook as Markdown: numbered steps with their action, parameters, timeout, retries and instructions."""

from __future__ import annotations

from pathlib import Path

from harness.report.escape import md, md_code
from harness.runbook import actions
from harness.spec.models import RunbookSpec


def render(runbook: RunbookSpec, path: Path | None = None) -> str:
    registry = actions.registry()
    lines = [f"# Runbook: {md(runbook.name)}", ""]
    if runbook.description:
        lines += [md(runbook.description.strip()), ""]
    if path is not None:
        lines += [f"_Source: {md_code(path)}_", ""]
    lines += ["| # | step | what | timeout | retries | on failure |", "|---|---|---|---|---|---|"]
    for i, step in enumerate(runbook.steps, 1):
        action = registry.get(step.action)
        what = md_code(step.action) + (f" — {md(action.summary)}" if action else "")
        if step.params:
            what += "<br>" + ", ".join(md_code(f"{k}={v}") for k, v in step.params.items())
        kind = " (manual)" if step.manual else " (verify)" if step.verify else ""
        lines.append(f"| {i} | **{md(step.name)}**{kind} | {what} | {step.timeout:g}s | {step.retry.attempts} "
                     f"(backoff {step.retry.backoff:g}s) | {step.on_failure.value} |")
    manual = [s for s in runbook.steps if s.manual]
    if manual:
        lines += ["", "## Instructions for people", ""]
        lines += [f"- **{md(s.name)}**: {md(s.instructions or '(none given)')}" for s in manual]
    return "\n".join(lines) + "\n"
