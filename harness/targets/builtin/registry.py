"""A file-based model registry: versions with metadata, aliases, and a history of alias moves.

Layout (the model server reads the same layout from the registry volume):
    <root>/<model>/versions/<version>/model.json   the artifact
    <root>/<model>/versions/<version>/meta.json    sha256, accuracy, created_at, notes
    <root>/<model>/aliases.json                    {"champion": "v2", "previous": "v1", ...}
    <root>/<model>/history.jsonl                   one line per alias move
The seed's rule: at least two earlier good versions stay deployable; ``check_deployable``
verifies an artifact against its checksum, which is how a broken rollback path is caught.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.ports import AliasMove, ReadLog, RollbackEvent
from harness.ports import RegistryError as RegistryError  # defined beside its port


class Registry(ReadLog):
    def __init__(self, root: Path, model: str) -> None:
        self.root = root
        self.model = model
        self.dir = root / model
        (self.dir / "versions").mkdir(parents=True, exist_ok=True)

    def _vdir(self, version: str) -> Path:
        return self.dir / "versions" / version

    def register(self, version: str, artifact: dict[str, Any], **meta: Any) -> None:
        raw = json.dumps(artifact, sort_keys=True).encode()
        vdir = self._vdir(version)
        vdir.mkdir(parents=True, exist_ok=True)
        (vdir / "model.json").write_bytes(raw)
        record = {"version": version, "sha256": hashlib.sha256(raw).hexdigest(),
                  "created_at": datetime.now(UTC).isoformat(), **meta}
        (vdir / "meta.json").write_text(json.dumps(record, sort_keys=True))

    def set_blob(self, version: str, name: str, size: int, sha256: str) -> None:
        """Record a version's weights file (written on the registry volume): the model server checks it at load."""
        meta = self.meta(version)
        meta["blob"] = {"name": name, "size": size, "sha256": sha256}
        (self._vdir(version) / "meta.json").write_text(json.dumps(meta, sort_keys=True))

    def versions(self) -> list[str]:
        return sorted(p.name for p in (self.dir / "versions").iterdir() if p.is_dir())

    def meta(self, version: str) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads((self._vdir(version) / "meta.json").read_text())
        except (OSError, ValueError) as exc:
            raise RegistryError(f"{self.model}/{version}: metadata unreadable ({exc})") from exc
        return data

    def aliases(self) -> dict[str, str]:
        path = self.dir / "aliases.json"
        return json.loads(path.read_text()) if path.exists() else {}

    def resolve(self, ref: str) -> str:
        return self.aliases().get(ref, ref)

    def check_deployable(self, version: str) -> None:
        """Raise RegistryError naming the problem if the artifact is missing or corrupt."""
        self._note_read(version)  # the drill's verdict asks whether a sabotaged artifact was reached
        meta = self.meta(version)
        path = self._vdir(version) / "model.json"
        if not path.exists():
            raise RegistryError(f"{self.model}/{version}: artifact missing ({path.name})")
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest != meta.get("sha256"):
            raise RegistryError(f"{self.model}/{version}: artifact corrupt (sha256 {digest[:12]} != {str(meta.get('sha256'))[:12]})")

    def set_alias(self, alias: str, version: str, reason: str) -> AliasMove:
        if version not in self.versions():
            raise RegistryError(f"{self.model}: no version {version!r} to point {alias!r} at")
        aliases = self.aliases()
        move = AliasMove(datetime.now(UTC), alias, aliases.get(alias), version, reason)
        aliases[alias] = version
        (self.dir / "aliases.json").write_text(json.dumps(aliases, sort_keys=True))
        with (self.dir / "history.jsonl").open("a") as fh:
            fh.write(json.dumps({"at": move.at.isoformat(), "alias": alias, "from": move.from_version,
                                 "to": version, "reason": reason}) + "\n")
        return move

    def promote(self, version: str, reason: str) -> None:
        """champion -> version, previous -> the old champion (a deploy pipeline's move)."""
        old = self.aliases().get("champion")
        if old is not None and old != version:
            self.set_alias("previous", old, reason)
        self.set_alias("champion", version, reason)

    def restore_previous(self, reason: str) -> str:
        """champion -> previous, after checking the previous artifact is deployable."""
        aliases = self.aliases()
        previous = aliases.get("previous")
        if previous is None:
            raise RegistryError(f"{self.model}: no 'previous' alias to roll back to")
        self.check_deployable(previous)
        self.set_alias("champion", previous, reason)
        # The version before the restored one becomes the new 'previous', so two stay deployable.
        older = [v for v in self.versions() if v < previous and "fault" not in self.meta(v)]
        if older:
            self.set_alias("previous", older[-1], reason)
        return previous

    def record_rollback(self, event: RollbackEvent) -> None:
        """The rollback event next to the alias moves, as the standard asks of a registry."""
        with (self.dir / "history.jsonl").open("a") as fh:
            fh.write(json.dumps({"at": datetime.now(UTC).isoformat(), "event": "rollback", "run_id": event.run_id,
                                 "from": event.from_version, "to": event.to_version,
                                 "decided_at": event.decided_at.isoformat() if event.decided_at else None,
                                 "completed_at": event.completed_at.isoformat() if event.completed_at else None,
                                 "trigger": event.trigger, "root_cause": event.root_cause}) + "\n")

    def history(self) -> list[dict[str, Any]]:
        path = self.dir / "history.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
