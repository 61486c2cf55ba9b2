"""The documentation site's reference pages, generated from the pydantic models and the registries.

    pages(cli)  ->  {"reference/drill.md": ..., "reference/runbook.md": ..., "reference/actions.md": ...,
                  "reference/faults.md": ..., "reference/cli.md": ...}

Every field of a drill and a runbook (type, default, limits, meaning: the ``Field`` descriptions), every
runbook action and every fault kind come from the same source as ``drill actions`` and ``drill faults``
(:mod:`harness.authoring.describe`), and the command reference from the typer app itself, so a page cannot drift
from what validation accepts. The MkDocs hook ``docs/hooks/reference.py`` adds these pages at build time;
``drill docs reference DIR`` writes them as files.
"""

from __future__ import annotations

import re
import types
from dataclasses import dataclass, replace
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel

from harness import backends, strategies, targets
from harness.authoring.commands import command_docs
from harness.authoring.describe import ParamDoc, action_docs, fault_docs, params_of
from harness.spec.models import DrillSpec, RunbookSpec, StrategySpec
from harness.spec.types import TargetBlock

GENERATED = "<!-- Generated from the models by harness/authoring/reference.py at build time: edit the models, not this page. -->\n"


@dataclass(frozen=True)
class Section:
    path: str  # as a drill writes it: "detection.compare[]", "target (kind: image)"
    model: type[BaseModel]
    parent: str = ""  # the path of the section whose field holds this one
    field: str = ""


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The models a field's annotation holds: itself, list items, dict values, the arms of a union; a drill's
    ``target:`` block is each registered target kind's own model."""
    if annotation is TargetBlock:
        return [record.spec for _, record in sorted(targets.kinds().items())]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    for arg in get_args(annotation):
        found += _models_in(arg)
    return found


def _shape(annotation: Any) -> str:
    """How a nested model sits in its parent, as a YAML writer sees it: a mapping, a list, a mapping of names."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _shape(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        arms = [a for a in get_args(annotation) if a is not type(None)]
        return _shape(arms[0]) if len(arms) == 1 else "mapping"
    if origin in (list, tuple):
        return "list"
    if origin is dict:
        return "dict"
    return "mapping"


def sections(model: type[BaseModel], path: str = "", parent: str = "", field: str = "") -> list[Section]:
    """``model`` and every model nested in it, depth first, each under the path a drill writes."""
    found = [Section(path, model, parent, field)]
    for name, info in model.model_fields.items():
        nested = _models_in(info.annotation)
        shape = _shape(info.annotation)
        for sub in nested:
            where = f"{path}.{name}" if path else name
            where += "[]" if shape == "list" else ".<name>" if shape == "dict" else ""
            kind = sub.model_fields.get("kind")
            if len(nested) > 1 and kind is not None and get_args(kind.annotation):
                where += f" (kind: {get_args(kind.annotation)[0]})"
            found += sections(sub, where, path, name)
    return found


def _anchor(path: str) -> str:
    """``target (kind: image).request`` -> ``target-kind-image-request``."""
    return "-".join("".join(c if c.isalnum() else " " for c in path.lower()).split()) or "top"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _code(text: str) -> str:
    """Code spans, one per alternative: a pipe inside a code span would show its escaping backslash in a table."""
    return " | ".join(f"`{part}`" for part in text.split(" | ")) if text else ""  # _cell escapes the pipes


def _title(path: str) -> str:
    """``target (kind: image).request`` -> ``target.request (kind: image)``: the path first, then its kind."""
    m = re.match(r"^(.*?) \(kind: ([^)]+)\)(.*)$", path)
    return f"`{m[1]}{m[3]}` (kind: {m[2]})" if m else f"`{path}`"


def _table(rows: list[ParamDoc], links: dict[str, list[tuple[str, str]]]) -> list[str]:
    out = ["| field | type | default | meaning |", "|---|---|---|---|"]
    for p in rows:
        targets = links.get(p.name, [])
        name = f"[`{p.name}`](#{targets[0][1]})" if targets else f"`{p.name}`"
        kind = "see below" if targets else _code(p.type)
        if len(targets) > 1:  # a union of blocks told apart by their kind
            kind = "one of: " + ", ".join(f"[{label}](#{anchor})" for label, anchor in targets)
        default = "**required**" if p.required else _code(p.default or "")
        meaning = p.description + (f" ({p.limits})" if p.limits else "")
        out.append(f"| {name} | {_cell(kind)} | {_cell(default)} | {_cell(meaning)} |")
    return out


def _registered(model: type[BaseModel], p: ParamDoc) -> ParamDoc:
    """A field whose values come from a registry (strategies, backends) shows the registered names as its type."""
    names: list[str] = []
    if model is StrategySpec and p.name == "kind":
        names = list(strategies.names())
    elif model is DrillSpec and p.name == "backend":
        names = sorted(backends.kinds())
    return replace(p, type=" | ".join(names)) if names else p


def _model_page(title: str, intro: str, root: type[BaseModel]) -> str:
    found = sections(root)
    lines = [GENERATED, f"# {title}", "", intro, ""]
    for section in found:
        links: dict[str, list[tuple[str, str]]] = {}
        for other in found:
            if other is not section and other.field and other.parent == section.path:
                label = other.path.rpartition("(kind: ")[2].rstrip(")") if "(kind: " in other.path else other.field
                links.setdefault(other.field, []).append((label, _anchor(other.path)))
        if section.path:
            lines += [f"## {_title(section.path)} {{#{_anchor(section.path)}}}", ""]
        doc = (section.model.__doc__ or "").strip()
        if doc and not doc.startswith(("Usage docs", "!!!", "A base class")):
            lines += [" ".join(doc.split()).replace("``", "`"), ""]
        lines += [*_table([_registered(section.model, p) for p in params_of(section.model)], links), ""]
    return "\n".join(lines)


def drill_page() -> str:
    return _model_page(
        "Drill file reference",
        "Every field a drill file (`drills/NAME.yaml`) may have, from the model `drill validate` checks it against. "
        "Durations are written `250ms`, `5s`, `15m` or `1h` (a bare number is seconds). Unknown fields are errors.",
        DrillSpec)


def runbook_page() -> str:
    return _model_page(
        "Runbook file reference",
        "Every field of a runbook file (`runbooks/NAME.yaml`). A step's `action` is one of the "
        "[actions](actions.md); its `params` are that action's. A drill's `preflight:` steps are the same steps.",
        RunbookSpec)


def actions_page() -> str:
    lines = [GENERATED, "# Runbook actions", "",
             "Every action a runbook step may name (`drill actions` prints the same), with its parameters. "
             "Third parties add actions through the `harness.actions` entry-point group (see [Extending drill](../extending.md)).",
             ""]
    for doc in action_docs():
        lines += [f"## `{doc.name}`", "", doc.summary + ".", ""]
        if doc.services:
            lines += [f"Names a stack service: {', '.join(f'`{s}`' for s in doc.services)}.", ""]
        lines += [*_table(list(doc.params), {}), ""] if doc.params else ["No parameters.", ""]
    return "\n".join(lines)


def faults_page() -> str:
    docs = fault_docs()
    lines = [GENERATED, "# Fault kinds", "",
             "What a drill's `fault:` may give its candidate (`drill faults` prints the same). The built-in model and an "
             "MLflow model version carry their fault themselves; an image target's candidate (a team's own server) "
             "gets it from a fault proxy in front of it (`inject: true`), or is a real bad version (`kind: none`).", "",
             "| kind | target kinds | what it does |", "|---|---|---|"]
    lines += [f"| [`{d.kind}`](#{_anchor(d.kind)}) | {', '.join(d.targets)} | {_cell(d.summary)} |" for d in docs]
    lines.append("")
    for d in docs:
        lines += [f"## `{d.kind}` {{#{_anchor(d.kind)}}}", "", d.summary + ".", "", f"Target kinds: {', '.join(d.targets)}.", ""]
        lines += [*_table(list(d.params), {}), ""] if d.params else ["No fields besides `kind`.", ""]
    return "\n".join(lines)


def cli_page(root: Any) -> str:
    lines = [GENERATED, "# Commands", "", "Every `drill` command and its options, from the command-line app itself "
             "(`drill COMMAND --help` prints the same).", ""]
    for doc in command_docs(root):
        lines += [f"## `{doc.usage}`", "", doc.help, ""]
        if doc.options:
            lines += ["| option | meaning |", "|---|---|"]
            lines += [f"| `{_cell(opt)}` | {_cell(text)} |" for opt, text in doc.options]
            lines.append("")
    return "\n".join(lines)


def pages(cli: Any) -> dict[str, str]:
    """Every generated page, by its path under docs/; ``cli`` is the drill app's root command (the commands page)."""
    return {"reference/drill.md": drill_page(), "reference/runbook.md": runbook_page(),
            "reference/actions.md": actions_page(), "reference/faults.md": faults_page(), "reference/cli.md": cli_page(cli)}
