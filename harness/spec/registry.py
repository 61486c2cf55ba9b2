"""Registries of kinds: records only, and the one place built-ins and entry points are loaded.

Every extension point (target kinds, backends, strategies, runbook actions) keeps a :class:`Registry` of
records: a record says what a kind is (name, spec model, what it supports) and where its code lives as a
dotted path (``"module:attr"``), imported only when a drill of that kind runs. The spec asks a registry
whether a kind exists; nothing here imports anything above the spec's base types, so validating a drill
loads no Docker client and no module of the engine.

Built-ins are listed by dotted path; third parties add records with an entry point in the registry's
group (``harness.targets.v1``, ``harness.backends.v1``, ``harness.strategies.v1``, ``harness.actions``) or
with :meth:`Registry.register`. Both are loaded once, on the first lookup, here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from importlib import import_module
from importlib.metadata import entry_points
from typing import Any, Generic, TypeVar

R = TypeVar("R")


def resolve(path: str) -> Any:
    """The object a dotted path names: ``"pkg.module:name"``, or the module itself for ``"pkg.module"``."""
    module, _, name = path.partition(":")
    found = import_module(module)
    return getattr(found, name) if name else found


class Registry(Generic[R]):
    """Records of one kind of extension by name, loaded once: built-ins first, then entry points."""

    def __init__(self, what: str, group: str, name_of: Callable[[R], str], adapt: Callable[[object], R | None],
                 builtin: Iterable[R | str] | Callable[[], Iterable[R | str]] = ()) -> None:
        self.what = what  # "target kind", "backend", ... (for messages)
        self.group = group
        self._name_of = name_of
        self._adapt = adapt  # an entry point's object as a record (None: not one of ours, ignored)
        # Records, or dotted paths of what holds one (imported on first use); a callable gives them on the first lookup.
        self._builtin = builtin
        self._records: dict[str, R] = {}
        self._loaded = False

    def register(self, record: R) -> None:
        """Make a kind available (a plugin's own code, or a test); it wins over a built-in of the same name."""
        self._records[self._name_of(record)] = record

    @contextmanager
    def added(self, record: R) -> Iterator[R]:
        """``record`` registered for the ``with`` block only (a test's kind), whatever was there before restored."""
        name = self._name_of(record)
        before = self._load().get(name)
        self._records[name] = record
        try:
            yield record
        finally:
            if before is None:
                self._records.pop(name, None)
            else:
                self._records[name] = before

    def _load(self) -> dict[str, R]:
        if not self._loaded:
            self._loaded = True
            for item in self._builtin() if callable(self._builtin) else self._builtin:
                record = self._adapt(resolve(item)) if isinstance(item, str) else item
                if record is not None:
                    self._records.setdefault(self._name_of(record), record)
            for ep in entry_points(group=self.group):
                record = self._adapt(ep.load())
                if record is not None:
                    self._records.setdefault(self._name_of(record), record)
        return self._records

    def kinds(self) -> dict[str, R]:
        """Every registered record by name."""
        return dict(self._load())

    def names(self) -> list[str]:
        return list(self._load())

    def get(self, name: str) -> R | None:
        return self._load().get(name)

    def unknown(self, name: object) -> str:
        """The message for a name that is not registered: "no backend 'x'; known: docker, swarm"."""
        return f"no {self.what} {name!r}; known: {', '.join(sorted(self._load()))}"
