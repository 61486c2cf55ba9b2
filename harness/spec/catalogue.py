"""Finding and loading drills and runbooks, with cross-checks (actions, params, services).

Search path: $DRILL_PATH (colon-separated project roots), the current directory, then the
catalogue shipped inside this package (``harness/data``). A root holds ``drills/`` and ``runbooks/``.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, replace
from pathlib import Path

from pydantic import ValidationError

from harness.adversity.spec import check_steps
from harness.errors import SpecError, SpecIssue
from harness.runbook import actions
from harness.spec.models import DrillSpec, RunbookSpec, line_of, load_yaml, parse_model, validation_issues

SERVICES = ("stable", "candidate", "router", "prometheus")
# The built-in catalogue ships with the package, so a wheel or pipx install has its drills too.
BUILTIN_ROOT = Path(__file__).resolve().parents[1] / "data"


def roots() -> list[Path]:
    found = [Path(p) for p in os.environ.get("DRILL_PATH", "").split(":") if p]
    found += [Path.cwd(), BUILTIN_ROOT]
    unique: list[Path] = []
    for root in found:
        if root not in unique and ((root / "drills").is_dir() or (root / "runbooks").is_dir()):
            unique.append(root)
    return unique


def _find(kind: str, name: str, near: Path | None = None) -> Path | None:
    """A file by path, or by name under <root>/<kind>/; ``near`` (a drill's own project) is searched first."""
    if name.endswith((".yaml", ".yml")) and Path(name).exists():
        return Path(name)
    for root in ([near] if near else []) + roots():
        for ext in (".yaml", ".yml"):
            path = root / kind / f"{name}{ext}"
            if path.exists():
                return path
    return None


def _find_in_project(project: Path, name: str) -> Path | None:
    """A runbook inside the drill's own project only (a path is read relative to the project, never the cwd)."""
    project = project.resolve()
    candidates = [project / name] if name.endswith((".yaml", ".yml")) else \
        [project / "runbooks" / f"{name}{ext}" for ext in (".yaml", ".yml")]
    for path in candidates:
        if path.resolve().is_relative_to(project) and path.is_file():
            return path
    return None


def _names(kind: str) -> list[str]:
    names: set[str] = set()
    for root in roots():
        names.update(p.stem for p in (root / kind).glob("*.y*ml"))
    return sorted(names)


def drill_names() -> list[str]:
    return _names("drills")


def runbook_names() -> list[str]:
    return _names("runbooks")


def did_you_mean(name: str, known: list[str]) -> str:
    """' (did you mean x?)' for a near miss, else ''."""
    close = difflib.get_close_matches(Path(name).stem, known, n=3, cutoff=0.6)
    return f" (did you mean {' or '.join(close)}?)" if close else ""


def project_drill_names() -> list[str]:
    """What ``drill run --all`` runs: the project's drills ($DRILL_PATH roots and the current directory);
    the built-in catalogue only where there is no project, so a team's CI runs its own drills, not the demo's."""
    project = [root for root in roots() if root != BUILTIN_ROOT and (root / "drills").is_dir()]
    names: set[str] = set()
    for root in project or [BUILTIN_ROOT]:
        names.update(p.stem for p in (root / "drills").glob("*.y*ml"))
    return sorted(names)


@dataclass(frozen=True)
class LoadedDrill:
    spec: DrillSpec
    runbook: RunbookSpec
    drill_path: Path
    runbook_path: Path


def check_runbook(path: Path, runbook: RunbookSpec, allow_shell: bool | None = None,
                  key: str = "steps") -> list[SpecIssue]:
    """Actions exist, their params validate, services named exist. ``allow_shell`` None: not checked.
    ``key``: where the steps sit in the file (``steps`` of a runbook, ``preflight`` of a drill)."""
    _, text = load_yaml(path)
    registry = actions.registry()
    issues: list[SpecIssue] = []
    for i, step in enumerate(runbook.steps):
        where = (key, i)
        found = registry.get(step.action)
        if found is None:
            known = sorted(registry)
            issues.append(SpecIssue(str(path), f"{key}.{i}.action",
                                    f"unknown action {step.action!r}{did_you_mean(step.action, known)}; known: {', '.join(known)}",
                                    line_of(text, (*where, "action"))))
            continue
        try:
            params = found.params.model_validate(step.params)
        except ValidationError as exc:
            for issue in validation_issues(path, text, exc):
                field = f"{key}.{i}.params.{issue.field}"
                issues.append(SpecIssue(str(path), field, issue.message, line_of(text, (*where, "params", *issue.field.split(".")))))
            continue
        for name in found.services:
            value = getattr(params, name)
            if isinstance(value, str) and "$" not in value and value not in SERVICES:
                issues.append(SpecIssue(str(path), f"{key}.{i}.params.{name}",
                                        f"no service {value!r} in the stack; known: {', '.join(SERVICES)}",
                                        line_of(text, (*where, "params", name))))
        if step.action == "shell" and allow_shell is False:
            issues.append(SpecIssue(str(path), f"{key}.{i}.action", "shell steps need allow_shell: true in the drill", line_of(text, (*where, "action"))))
    return issues


def load_runbook(name_or_path: str) -> tuple[RunbookSpec, Path]:
    path = _find("runbooks", name_or_path)
    if path is None:
        raise SpecError(SpecIssue(name_or_path, "runbook", f"no runbook named {name_or_path!r}{did_you_mean(name_or_path, runbook_names())} in {_where()}"))
    runbook = parse_model(path, RunbookSpec)
    issues = check_runbook(path, runbook)
    if issues:
        raise SpecError(issues)
    return runbook, path


def load_drill(name_or_path: str) -> LoadedDrill:
    path = _find("drills", name_or_path)
    if path is None:
        known = ", ".join(drill_names()) or "none"
        hint = did_you_mean(name_or_path, drill_names())
        raise SpecError(SpecIssue(name_or_path, "drill", f"no drill named {name_or_path!r}{hint} (known: {known}) in {_where()}"))
    # Every error of the drill at once: its own fields, its request file, its runbook's name, the runbook's
    # fields and actions, its pre-flight steps; one that cannot be checked (no runbook) does not hide the rest.
    issues: list[SpecIssue] = []
    spec: DrillSpec | None = None
    try:
        spec = parse_model(path, DrillSpec)
    except SpecError as exc:
        issues += exc.issues
    data, text = load_yaml(path)  # parsed already: a malformed file raised above, before any other check
    name = spec.runbook if spec is not None else data.get("runbook")
    allow_shell = spec.allow_shell if spec is not None else data.get("allow_shell") is True
    runbook: RunbookSpec | None = None
    rb_path: Path | None = None
    if isinstance(name, str):
        rb_path, where = _find_runbook(path, name, allow_shell)
        if rb_path is None:
            hint = did_you_mean(name, runbook_names())
            issues.append(SpecIssue(str(path), "runbook", f"no runbook named {name!r}{hint} in {where}",
                                    line_of(text, ("runbook",))))
        else:
            try:
                runbook = parse_model(rb_path, RunbookSpec)
                issues += check_runbook(rb_path, runbook, allow_shell)
            except SpecError as exc:
                issues += exc.issues
    if spec is not None and spec.preflight:
        issues += check_runbook(path, preflight_runbook(spec), spec.allow_shell, key="preflight")
    if spec is not None and runbook is not None and spec.adversity:  # steps named by the adversity, in the runbook
        issues += [replace(issue, line=line_of(text, ("adversity", int(issue.field.split(".")[1]), "at")))
                   for issue in check_steps(str(path), spec.adversity, [s.name for s in runbook.steps])]
    if issues:
        raise SpecError(issues)
    assert spec is not None and runbook is not None and rb_path is not None
    return LoadedDrill(spec, runbook, path, rb_path)


def _find_runbook(drill_path: Path, name: str, allow_shell: bool) -> tuple[Path | None, str]:
    """The drill's runbook, and where it was looked for."""
    project = drill_path.resolve().parent.parent
    if allow_shell:
        # A drill that may run shell commands runs only its own project's runbook: a runbook of the same name
        # elsewhere (the current directory, $DRILL_PATH) must never be able to slip commands in.
        return _find_in_project(project, name), f"{project / 'runbooks'} (allow_shell: the drill's own project only)"
    return _find("runbooks", name, near=project), _where()


def preflight_runbook(spec: DrillSpec) -> RunbookSpec:
    """A drill's pre-flight steps as a runbook of their own (run after the baseline, before the deploy)."""
    return RunbookSpec(name=f"{spec.name}-preflight", steps=spec.preflight)


def _where() -> str:
    return ", ".join(str(r) for r in roots()) or "no drills/ or runbooks/ directory found"
