"""The YAML loader for drill and runbook files: a SafeLoader that refuses duplicate keys and deep nesting."""

from __future__ import annotations

from typing import Any

import yaml

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
