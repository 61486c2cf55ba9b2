"""A runbook as Markdown: numbered steps with their action, parameters, timeout, retries and instructions."""

from __future__ import annotations

from pathlib import Path

from harness import actions
from harness.specs import RunbookSpec


def render(runbook: RunbookSpec, path: Path | None = None) -> str:
    registry = actions.registry()
    lines = [f"# Runbook: {runbook.name}", ""]
    if runbook.description:
        lines += [runbook.description.strip(), ""]
    if path is not None:
        lines += [f"_Source: `{path}`_", ""]
    lines += ["| # | step | what | timeout | retries | on failure |", "|---|---|---|---|---|---|"]
    for i, step in enumerate(runbook.steps, 1):
        action = registry.get(step.action)
        what = f"`{step.action}`" + (f" — {action.summary}" if action else "")
        if step.params:
            what += "<br>" + ", ".join(f"{k}={v}" for k, v in step.params.items())
        kind = " (manual)" if step.manual else " (verify)" if step.verify else ""
        lines.append(f"| {i} | **{step.name}**{kind} | {what} | {step.timeout:g}s | {step.retry.attempts} "
                     f"(backoff {step.retry.backoff:g}s) | {step.on_failure.value} |")
    manual = [s for s in runbook.steps if s.manual]
    if manual:
        lines += ["", "## Instructions for people", ""]
        lines += [f"- **{s.name}**: {s.instructions or '(none given)'}" for s in manual]
    return "\n".join(lines) + "\n"
