"""A registry of a team's image versions: aliases ``champion`` and ``previous``, history in the run's workdir.

There is no registry service here: versions are the drill's ``target.versions``, each an image built or
found locally. Whether a version is deployable is the image's business, so that check is injected
(``deployable``: raises RegistryError naming the version and the image), which is also how a unit
test drives this registry without Docker.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.ports import AliasMove, ReadLog, RegistryError, RollbackEvent, Versions


class ImageRegistry(ReadLog):
    def __init__(self, model: str, root: Path, names: Sequence[str], versions: Versions,
                 deployable: Callable[[str], None]) -> None:
        self.model = model
        self.root = root
        self._names = list(names)
        self._deployable = deployable
        self._initial_previous = versions.previous
        root.mkdir(parents=True, exist_ok=True)
        self._aliases: dict[str, str] = {}
        if versions.previous != versions.stable:
            self.set_alias("previous", versions.previous, "seed")
        self.set_alias("champion", versions.stable, "seed")

    def versions(self) -> list[str]:
        return list(self._names)

    def aliases(self) -> dict[str, str]:
        return dict(self._aliases)

    def resolve(self, ref: str) -> str:
        return self._aliases.get(ref, ref)

    def set_alias(self, alias: str, version: str, reason: str) -> AliasMove:
        if version not in self._names:
            raise RegistryError(f"{self.model}: no version {version!r} to point {alias!r} at; known: {', '.join(self._names)}")
        move = AliasMove(datetime.now(UTC), alias, self._aliases.get(alias), version, reason)
        self._aliases[alias] = version
        (self.root / "aliases.json").write_text(json.dumps(self._aliases, sort_keys=True))
        self._append("history.jsonl", {"at": move.at.isoformat(), "alias": alias, "from": move.from_version,
                                       "to": version, "reason": reason})
        return move

    def promote(self, version: str, reason: str) -> None:
        old = self._aliases.get("champion")
        if old is not None and old != version:
            self.set_alias("previous", old, reason)
        self.set_alias("champion", version, reason)

    def restore_previous(self, reason: str) -> str:
        previous = self._aliases.get("previous")
        if previous is None:
            raise RegistryError(f"{self.model}: no 'previous' alias to roll back to")
        self.check_deployable(previous)
        self.set_alias("champion", previous, reason)
        # The version before the restored one is the way back again, where the drill named one.
        if self._initial_previous != previous:
            self.set_alias("previous", self._initial_previous, reason)
        else:
            self._aliases.pop("previous", None)
            (self.root / "aliases.json").write_text(json.dumps(self._aliases, sort_keys=True))
        return previous

    def check_deployable(self, version: str) -> None:
        self._note_read(version)  # the drill's verdict asks whether a sabotaged artifact was reached
        if version not in self._names:
            raise RegistryError(f"{self.model}: no version {version!r}; known: {', '.join(self._names)}")
        self._deployable(version)

    def record_rollback(self, event: RollbackEvent) -> None:
        record = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in asdict(event).items()}
        self._append("rollbacks.jsonl", record)

    def history(self) -> list[dict[str, Any]]:
        path = self.root / "history.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    def rollbacks(self) -> list[dict[str, Any]]:
        path = self.root / "rollbacks.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    def _append(self, name: str, record: dict[str, Any]) -> None:
        with (self.root / name).open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")
