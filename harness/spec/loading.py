"""Loading drill and runbook files: a SafeLoader that refuses duplicate keys and deep nesting, YAML to a model with
every problem at once (file, line, field), and the line of a pydantic error location."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from harness.errors import SpecError, SpecIssue
from harness.spec.types import ISSUES_KEY, FieldError

M = TypeVar("M", bound=BaseModel)

MAX_DEPTH = 32  # nesting levels a drill or runbook file may use; deeper is refused, never a RecursionError


class _TooDeep(yaml.YAMLError):
    def __init__(self, mark: yaml.Mark | None) -> None:
        super().__init__(f"nested more than {MAX_DEPTH} levels deep")
        self.problem = str(self)
        self.problem_mark = mark


class SpecLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys and deep nesting (both silently wrong or a crash otherwise)."""

    _depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _TooDeep(self.peek_event().start_mark)  # type: ignore[no-untyped-call]
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
                seen.add(key)
            except TypeError:  # an unhashable key; SafeLoader reports it below
                continue
            if duplicate:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        return super().construct_mapping(node, deep)


def _timestamp_as_text(loader: SpecLoader, node: yaml.Node) -> str:
    assert isinstance(node, yaml.ScalarNode)  # a timestamp is always a scalar
    return str(loader.construct_scalar(node))


# Dates stay text: the model validates them and names the field (2026-02-30 is then a field error, not a crash).
SpecLoader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_as_text)


def line_of(text: str, loc: tuple[int | str, ...]) -> int | None:
    """Best-effort line of a pydantic error location in YAML text, via the composed node tree."""
    try:
        node = yaml.compose(text, Loader=SpecLoader)
    except yaml.YAMLError:
        return None
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if k.value == part), None)
            key = next((k for k, v in node.value if k.value == part), None)
            if match is None:
                return line
            line = (key.start_mark.line if key is not None else match.start_mark.line) + 1
            node = match
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def _decode(path: Path, raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise SpecError(SpecIssue(str(path), "-", f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})",
                                  line)) from None


def load_yaml(path: Path) -> tuple[dict[str, Any], str]:
    try:
        text = _decode(path, path.read_bytes())
    except OSError as exc:
        raise SpecError(SpecIssue(str(path), "-", f"cannot read: {exc.strerror}")) from exc
    try:
        data = yaml.load(text, Loader=SpecLoader)  # noqa: S506  (a SafeLoader subclass)
    except RecursionError:
        raise SpecError(SpecIssue(str(path), "-", f"nested more than {MAX_DEPTH} levels deep")) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise SpecError(SpecIssue(str(path), "-", f"malformed YAML: {getattr(exc, 'problem', exc)}", line)) from exc
    if not isinstance(data, dict):
        raise SpecError(SpecIssue(str(path), "-", "expected a mapping at the top level", 1))
    return data, text


def validation_issues(path: Path, text: str, exc: ValidationError) -> list[SpecIssue]:
    issues = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        cause = (err.get("ctx") or {}).get("error")
        if isinstance(cause, FieldError):  # a model validator's error about one of its fields: that field's line
            loc = (*loc, *cause.loc)
        field = ".".join(str(p) for p in loc) or "-"
        issues.append(SpecIssue(str(path), field, err["msg"], line_of(text, loc)))
    return issues


def parse_model(path: Path, model: type[M]) -> M:
    data, text = load_yaml(path)
    # Paths inside a spec (a build context, a request file) are relative to the spec's own file; problems in
    # those files (a request file's bad lines) are gathered in the context and reported with the spec's own.
    elsewhere: list[SpecIssue] = []
    try:
        parsed = model.model_validate(data, context={"spec_dir": path.resolve().parent, ISSUES_KEY: elsewhere})
    except ValidationError as exc:
        raise SpecError(validation_issues(path, text, exc) + elsewhere) from exc
    if elsewhere:
        raise SpecError(elsewhere)
    return parsed
