"""Parameters documented from the pydantic models themselves: names, types, defaults, limits.

`drill actions` and `drill faults` print these, so the documentation cannot drift from what the
validation accepts: a new field on an action's ``Params`` shows up there with nothing else to edit.
"""

from __future__ import annotations

import types
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from harness.runbook import actions
from harness.specs import FAULT_KINDS, FaultSpec, parse_duration


@dataclass(frozen=True)
class ParamDoc:
    name: str
    type: str
    required: bool
    default: str | None  # as a person would write it; None when required
    limits: str  # "0 ≤ x ≤ 256", "" when unconstrained
    description: str = ""


@dataclass(frozen=True)
class ActionDoc:
    name: str
    summary: str
    params: tuple[ParamDoc, ...]
    services: tuple[str, ...]


@dataclass(frozen=True)
class FaultDoc:
    kind: str
    summary: str
    params: tuple[ParamDoc, ...]


def _is_duration(metadata: list[Any]) -> bool:
    return any(getattr(m, "func", None) is parse_duration for m in metadata)


def _type_name(annotation: Any, metadata: list[Any] = []) -> str:  # noqa: B006  (never mutated)
    if _is_duration(metadata):
        return "duration"
    origin = get_origin(annotation)
    if origin is Annotated:
        inner, *extra = get_args(annotation)
        flat: list[Any] = []
        for item in extra:
            flat += item.metadata if isinstance(item, FieldInfo) else [item]
        return _type_name(inner, flat)
    if origin in (Union, types.UnionType):
        names = [_type_name(a) for a in get_args(annotation) if a is not type(None)]
        return " | ".join(names) + (" | null" if type(None) in get_args(annotation) else "")
    if origin is Literal:
        return " | ".join(str(a) for a in get_args(annotation))
    if origin is not None:
        return str(annotation).replace("typing.", "")
    return getattr(annotation, "__name__", str(annotation))


def _limits(metadata: list[Any]) -> str:
    parts = []
    for m in metadata:
        for attr, sign in (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<")):
            value = getattr(m, attr, None)
            if isinstance(m, annotated_types.BaseMetadata) and value is not None:
                parts.append(f"{sign} {value}")
    return ", ".join(parts)


def _field_metadata(info: FieldInfo) -> list[Any]:
    found = list(info.metadata)
    for arg in get_args(info.annotation):  # Optional[Annotated[...]] keeps the inner metadata here
        if get_origin(arg) is Annotated:
            for item in get_args(arg)[1:]:
                found += item.metadata if isinstance(item, FieldInfo) else [item]
    return found


def _default(info: FieldInfo, duration: bool) -> str | None:
    if info.is_required():
        return None
    value = info.get_default(call_default_factory=True)
    if value is PydanticUndefined:
        return None
    if value is None:
        return "null"
    return f"{value:g}s" if duration and isinstance(value, float) else str(value)


def params_of(model: type[BaseModel], only: tuple[str, ...] | None = None) -> tuple[ParamDoc, ...]:
    """Every field of ``model`` (or those named in ``only``), in declaration order."""
    docs = []
    for name, info in model.model_fields.items():
        if only is not None and name not in only:
            continue
        metadata = _field_metadata(info)
        docs.append(ParamDoc(name, _type_name(info.annotation, list(info.metadata)), info.is_required(),
                             _default(info, _is_duration(metadata)), _limits(metadata), info.description or ""))
    return tuple(docs)


def action_docs() -> list[ActionDoc]:
    return [ActionDoc(a.name, a.summary, params_of(a.params), a.services)
            for _, a in sorted(actions.registry().items())]


def fault_docs() -> list[FaultDoc]:
    docs = []
    for kind, (summary, required, optional) in FAULT_KINDS.items():
        params = params_of(FaultSpec, required + optional)
        # A field a kind needs is required for that kind, whatever its model-wide default.
        params = tuple(ParamDoc(p.name, p.type.removesuffix(" | null"), p.name in required,
                                None if p.name in required else p.default, p.limits, p.description)
                       for p in params)
        docs.append(FaultDoc(kind, summary, params))
    return docs
