"""Run variables: `drill run NAME --var KEY=VALUE` sets ``${KEY}`` for runbooks and the team's commands of the
target (a compose target's ``deploy``/``promote``, an external target's commands), next to the built-in ones.

    parse_vars(["webhook=http://127.0.0.1:8080/hook"])  -> {"webhook": "http://127.0.0.1:8080/hook"}
    check_drill(drill, {"webhook": ...})                 -> raises SpecError if a runbook names an unknown ${KEY}

Bad input is a SpecError (exit 2) before anything starts: an item without ``=``, a key that is not an
identifier, a key that would override a built-in variable (or one the target sets), and a runbook, a target's
command (or the drill's ``notify`` webhook) naming a variable nobody sets.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from string import Template
from typing import Any

from harness.errors import SpecError, SpecIssue
from harness.spec.catalogue import LoadedDrill
from harness.spec.models import line_of, load_yaml

# The engine sets these for every run (harness.engine.engine builds them); --var may not override them.
BUILTIN = ("stable_version", "candidate_version", "previous_version", "model", "run_id")
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def parse_vars(items: Iterable[str]) -> dict[str, str]:
    """``KEY=VALUE`` items -> a mapping; every bad item reported at once (SpecError, field ``--var``)."""
    found: dict[str, str] = {}
    issues: list[SpecIssue] = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            issues.append(SpecIssue("command line", "--var", f"expected KEY=VALUE, got {item!r}"))
        elif not _KEY.match(key):
            issues.append(SpecIssue("command line", "--var", f"{key!r} is not a variable name (letters, digits, _; "
                                                       "not starting with a digit)"))
        elif key in BUILTIN:
            issues.append(SpecIssue("command line", "--var", f"{key!r} is a built-in variable set by the run; "
                                                       f"built-ins: {', '.join(BUILTIN)}"))
        elif key in found and found[key] != value:
            issues.append(SpecIssue("command line", "--var", f"{key!r} is given twice with different values"))
        else:
            found[key] = value
    if issues:
        raise SpecError(issues)
    return found


def names_in(value: Any) -> set[str]:
    """The ``${NAME}`` / ``$NAME`` variables a parameter value (string, list, mapping) refers to."""
    if isinstance(value, str):
        return {m.group("named") or m.group("braced") for m in Template.pattern.finditer(value)
                if m.group("named") or m.group("braced")}
    if isinstance(value, Mapping):
        return set().union(*(names_in(v) for v in value.values())) if value else set()
    if isinstance(value, (list, tuple)):
        return set().union(*(names_in(v) for v in value)) if value else set()
    return set()


def check_drill(drill: LoadedDrill, variables: Mapping[str, str]) -> None:
    """SpecError naming file, field and line for every ``${NAME}`` that neither a built-in nor --var sets."""
    known = set(BUILTIN) | set(variables)
    issues: list[SpecIssue] = []
    rb_text: str | None = None
    for i, step in enumerate(drill.runbook.steps):
        for param, value in step.params.items():
            for name in sorted(names_in(value) - known):
                if rb_text is None:
                    _, rb_text = load_yaml(drill.runbook_path)
                issues.append(SpecIssue(
                    str(drill.runbook_path), f"steps.{i}.params.{param}",
                    f"uses ${{{name}}}, which is not set; give --var {name}=VALUE (built-ins: {', '.join(BUILTIN)})",
                    line_of(rb_text, ("steps", i, "params", param))))
        url = step.params.get("url") if step.action == "notify" else None
        if isinstance(url, str) and _unsafe_after(url, variables):
            if rb_text is None:
                _, rb_text = load_yaml(drill.runbook_path)
            issues.append(SpecIssue(str(drill.runbook_path), f"steps.{i}.params.url", UNSAFE_URL,
                                    line_of(rb_text, ("steps", i, "params", "url"))))
    issues += _target_issues(drill, known)
    notify = drill.spec.notify
    if notify is not None:
        for name in sorted(names_in(notify.webhook) - known):
            _, text = load_yaml(drill.drill_path)
            issues.append(SpecIssue(str(drill.drill_path), "notify.webhook",
                                    f"uses ${{{name}}}, which is not set; give --var {name}=VALUE",
                                    line_of(text, ("notify", "webhook"))))
        if _unsafe_after(notify.webhook, {**variables, "model": drill.spec.model}):
            _, text = load_yaml(drill.drill_path)
            issues.append(SpecIssue(str(drill.drill_path), "notify.webhook", UNSAFE_URL, line_of(text, ("notify", "webhook"))))
    if issues:
        raise SpecError(issues)


def _target_issues(drill: LoadedDrill, known: set[str]) -> list[SpecIssue]:
    """The target's templated fields (the team's deploy/promote/rollback/abort commands, an external entrypoint's
    port): every ``${NAME}`` must be a built-in, one the target sets itself, or given with ``--var``."""
    target = drill.spec.target
    own = target.run_variables()
    issues: list[SpecIssue] = []
    text: str | None = None
    for name in sorted(own & (known - set(BUILTIN))):
        issues.append(SpecIssue("command line", "--var", f"{name!r} is set by the {target.kind} target itself "
                                f"(it sets {', '.join(sorted(own))})"))
    for loc, value in target.templated():
        for name in sorted(names_in(value) - known - own):
            text = text if text is not None else load_yaml(drill.drill_path)[1]
            issues.append(SpecIssue(
                str(drill.drill_path), ".".join(map(str, ("target", *loc))),
                f"uses ${{{name}}}, which is not set; give --var {name}=VALUE "
                f"(built-ins: {', '.join([*BUILTIN, *sorted(own)])})", line_of(text, ("target", *loc))))
    return issues


UNSAFE_URL = "with the --var values filled in, the URL contains whitespace or a control character"


def _unsafe_after(url: str, variables: Mapping[str, str]) -> bool:
    """A webhook URL that --var values make unusable (a value with a space): refused before anything starts."""
    from harness.engine.redaction import unsafe_characters

    return unsafe_characters(substitute(url, variables))


def substitute(text: str, variables: Mapping[str, str]) -> str:
    """Fill known variables; unknown ones stay as written (check_drill has already refused them)."""
    return Template(text).safe_substitute(variables)
