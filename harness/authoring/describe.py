"""Parameters documented from the pydantic models themselves: names, types, defaults, limits.

`drill actions` and `drill faults` print these, so the documentation cannot drift from what the
validation accepts: a new field on an action's ``Params`` shows up there with nothing else to edit.
"""

from __future__ import annotations

import types
from dataclasses import dataclass
from enum import Enum
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from harness import targets
from harness.runbook import actions
from harness.spec.models import FAULT_KINDS, NETWORK_FAULTS, FaultSpec, parse_duration


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
    targets: tuple[str, ...] = ()  # the target kinds that take it: "builtin", "image (inject: true)", ...


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
    if origin in (list, tuple, dict):
        args = [_type_name(a) for a in get_args(annotation) if a is not Ellipsis]
        return f"{origin.__name__}[{', '.join(args)}]"
    if origin is not None:
        return str(annotation).replace("typing.", "")
    return getattr(annotation, "__name__", str(annotation))


def _limits(metadata: list[Any]) -> str:
    """The tightest bounds as one interval: ``0 < x ≤ 60``, ``x ≥ 1``, ``0 ≤ x ≤ 256``.

    A field may carry several (a Duration's ``≥ 0`` and the field's own ``> 0, ≤ 60``): the larger lower and
    the smaller upper bound win, and at equal values the strict one."""
    lower: tuple[Any, bool] | None = None  # (value, strict)
    upper: tuple[Any, bool] | None = None
    for m in metadata:
        if not isinstance(m, annotated_types.BaseMetadata):
            continue
        for attr, strict in (("ge", False), ("gt", True)):
            value = getattr(m, attr, None)
            if value is not None and (lower is None or (value, strict) > lower):
                lower = (value, strict)
        for attr, strict in (("le", False), ("lt", True)):
            value = getattr(m, attr, None)
            if value is not None and (upper is None or (value, not strict) < (upper[0], not upper[1])):
                upper = (value, strict)
    if lower is not None and upper is not None:
        return f"{lower[0]} {'<' if lower[1] else '≤'} x {'<' if upper[1] else '≤'} {upper[0]}"
    if lower is not None:
        return f"x {'>' if lower[1] else '≥'} {lower[0]}"
    if upper is not None:
        return f"x {'<' if upper[1] else '≤'} {upper[0]}"
    return ""


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
    return _written(value, duration)


def _written(value: Any, duration: bool = False) -> str:
    """A default as a person writes it in YAML."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, BaseModel):
        return "{}"  # a block whose every field has its default
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_written(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_written(v) for v in value) + "]"
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


_MADE_BY_A_PROXY = ("error", "drop", "wrong_body")  # no model makes these: inject: true only


_PROXY_DEFAULTS = {"rate": ("1.0", ""), "status": ("503", ""), "body": ("{}", "JSON")}


def fault_targets(kind: str) -> tuple[str, ...]:
    """The target kinds that take fault ``kind``, from their records (``harness.targets``): a kind whose model
    carries it itself, then ``KIND (inject: true)`` where a fault proxy injects it in front of the candidate."""
    found = []
    for name, record in sorted(targets.kinds().items()):
        if kind in record.faults:
            found.append(name)
        elif kind in record.injected:
            found.append(f"{name} (inject: true)")
    return tuple(found)


def fault_docs() -> list[FaultDoc]:
    docs = []
    for kind, (summary, required, optional) in FAULT_KINDS.items():
        injected: tuple[str, ...] = ()
        if kind in NETWORK_FAULTS and kind != "none":
            injected = ("inject",) + (("rate",) if "rate" not in optional else ())
        params = params_of(FaultSpec, required + optional + injected)
        # A field a kind needs is required for that kind, whatever its model-wide default.
        params = tuple(_for_kind(p, kind, required) for p in params)
        docs.append(FaultDoc(kind, summary, params, fault_targets(kind)))
    return docs


def _for_kind(p: ParamDoc, kind: str, required: tuple[str, ...]) -> ParamDoc:
    if p.name == "inject":
        if kind in _MADE_BY_A_PROXY:
            return ParamDoc("inject", "true", True, None, "", "a fault proxy in front of the candidate makes it (any HTTP server)")
        return ParamDoc("inject", "bool", False, "false", "",
                        "true: a fault proxy in front of the candidate makes it (the image target's way), on a share `rate`")
    if p.name == "rate" and kind == "latency":
        return ParamDoc("rate", p.type.removesuffix(" | null"), False, "1.0", p.limits,
                        "injected only: the share of predict requests delayed")
    if p.name in _PROXY_DEFAULTS:  # the fault proxy's own defaults where the drill leaves a field out
        default, kind_type = _PROXY_DEFAULTS[p.name]
        return ParamDoc(p.name, kind_type or p.type.removesuffix(" | null"), False, default, p.limits, p.description)
    return ParamDoc(p.name, p.type.removesuffix(" | null"), p.name in required,
                    None if p.name in required else p.default, p.limits, p.description)
