"""Registry health as an action: the standard's "at least two prior versions deployable", checked.

Works with any :class:`harness.ports.ModelRegistry` (the file registry, MLflow): it only asks for
``versions()`` and ``check_deployable()``. Usable as a runbook step (pre-flight, or before a restore) and as
the one step of a drill of its own.
"""

from __future__ import annotations

from pydantic import Field

from harness.engine.context import RunContext
from harness.errors import DrillError, StepFailed
from harness.runbook.actions.registry import Params, action


class PriorVersionsParams(Params):
    before: str = "${candidate_version}"  # a version or alias: the versions registered before it are checked
    minimum: int = Field(default=2, ge=1, le=20)


@action("registry.check_prior_versions", PriorVersionsParams,
        "Fail unless at least N versions before a version are deployable (artifact downloads and loads)")
def check_prior_versions(ctx: RunContext, p: PriorVersionsParams) -> str:
    registry = ctx.registry
    before = str(ctx.render({"before": p.before})["before"])  # the default names a variable too
    try:
        reference = registry.resolve(before)
        versions = registry.versions()
    except DrillError as exc:
        raise StepFailed(f"cannot list the versions before {before!r}: {exc}") from exc
    if reference not in versions:
        raise StepFailed(f"{registry.model}: no version {before!r} in the registry")
    prior = versions[: versions.index(reference)]
    deployable: list[str] = []
    broken: list[str] = []
    for version in reversed(prior):  # newest first: those are the ones a rollback lands on
        try:
            registry.check_deployable(version)
        except DrillError as exc:
            broken.append(f"{version}: {exc}")
            continue
        deployable.append(version)
        if len(deployable) >= p.minimum:
            break
    if len(deployable) < p.minimum:
        named = "; ".join(broken) if broken else "no earlier versions registered"
        raise StepFailed(f"{len(deployable)} prior version(s) of {registry.model} before {reference} deployable "
                         f"({', '.join(deployable) or 'none'}), need {p.minimum}; not deployable: {named}")
    return f"{len(deployable)} prior versions deployable: {', '.join(deployable)}"
