"""The MLflow registry adapter: :class:`harness.ports.ModelRegistry` over ``MlflowClient``.

MLflow (2.9+) promotes by aliases (``models:/fraud@champion``) and keeps no alias history, so "restore the
previous champion" is exactly the step teams get wrong under pressure. This adapter keeps that history in
the registry itself, where every other tool can read it:

    registered model tag  drill.alias_move.000007   {"at", "alias", "from", "to", "reason", "kind", "run_id"}
    version tag           deployed_at               when the version became champion (ISO-8601, UTC)
    version tag           rollback.decided_at / rollback.completed_at / rollback.trigger /
                          rollback.root_cause / rollback.to_version / rollback.drill_run_id
    version tag           drill.artifact_sha256     sha256 of every artifact file (written when logged)
    version tag           drill.weights             {"file": "weights.bin", "size"}: the big weights, if any

The previous champion is the last version deployed before the current champion that was not itself rolled
back; it is also kept in the ``previous`` alias. MLflow's own errors (and an unreachable server) become
:class:`RegistryError` here, and nowhere else.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from harness.ports import AliasMove, ReadLog, RegistryError, RollbackEvent
from harness.targets.mlflow.models import CHECKSUM_TAG, checksums, tracking
from harness.targets.mlflow.weights import recorded_weights

# MLflow's HTTP client retries for minutes by default; a drill wants to know in seconds.
os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "20")

MOVE_PREFIX = "drill.alias_move."
DEPLOYED_TAG = "deployed_at"
ROLLBACK_PREFIX = "rollback."
CHAMPION, PREVIOUS = "champion", "previous"
T = TypeVar("T")


def iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


@contextmanager
def mlflow_errors(what: str) -> Iterator[None]:
    """Translate MLflow's and the transport's errors into RegistryError, naming what was being done."""
    from mlflow.exceptions import MlflowException

    try:
        yield
    except RegistryError:
        raise
    except MlflowException as exc:
        raise RegistryError(f"{what}: {exc.message.splitlines()[0][:300]}") from exc
    except (OSError, ValueError) as exc:  # requests' ConnectionError is an OSError
        raise RegistryError(f"{what}: {type(exc).__name__}: {str(exc).splitlines()[0][:300]}") from exc


class MlflowRegistry(ReadLog):
    """One registered model in an MLflow tracking server (or any tracking URI the client accepts)."""

    def __init__(self, tracking_uri: str, model: str, run_id: str | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        from mlflow import MlflowClient

        self.tracking_uri = tracking_uri
        self.model = model
        self.run_id = run_id
        self.clock = clock
        self.client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        with mlflow_errors(f"MLflow {self.model}: {what}"):
            return fn()

    # ---- reading --------------------------------------------------------------------------
    def versions(self) -> list[str]:
        """Every version of the model, oldest first (MLflow numbers them 1, 2, 3 ...)."""
        found = self._call("list versions", lambda: self.client.search_model_versions(f"name='{self.model}'"))
        return sorted((str(mv.version) for mv in found), key=int)

    def aliases(self) -> dict[str, str]:
        rm = self._call("read model", lambda: self.client.get_registered_model(self.model))
        return {str(k): str(v) for k, v in (rm.aliases or {}).items()}

    def resolve(self, ref: str) -> str:
        if ref.isdigit():
            return ref
        mv = self._call(f"resolve alias {ref!r}", lambda: self.client.get_model_version_by_alias(self.model, ref))
        return str(mv.version)

    def version_tags(self, version: str) -> dict[str, str]:
        mv = self._call(f"read version {version}", lambda: self.client.get_model_version(self.model, version))
        return {str(k): str(v) for k, v in (mv.tags or {}).items()}

    def history(self) -> list[dict[str, Any]]:
        """Alias moves recorded by this adapter (or a pipeline writing the same tags), oldest first."""
        rm = self._call("read model", lambda: self.client.get_registered_model(self.model))
        moves = []
        for key, value in sorted((rm.tags or {}).items()):
            if key.startswith(MOVE_PREFIX):
                try:
                    moves.append({"seq": int(key[len(MOVE_PREFIX):]), **json.loads(value)})
                except ValueError as exc:
                    raise RegistryError(f"MLflow {self.model}: model tag {key} is not an alias move ({exc})") from exc
        return sorted(moves, key=lambda m: int(m["seq"]))

    # ---- moving aliases ---------------------------------------------------------------------
    def set_alias(self, alias: str, version: str, reason: str, kind: str = "move") -> AliasMove:
        if version not in self.versions():
            raise RegistryError(f"MLflow {self.model}: no version {version!r} to point {alias!r} at")
        before = self.aliases().get(alias)
        at = self.clock()
        self._call(f"set alias {alias} -> {version}",
                   lambda: self.client.set_registered_model_alias(self.model, alias, version))
        seq = max((int(m["seq"]) for m in self.history()), default=0) + 1
        record = {"at": iso(at), "alias": alias, "from": before, "to": version, "reason": reason, "kind": kind,
                  "run_id": self.run_id}
        self._call("record the alias move", lambda: self.client.set_registered_model_tag(
            self.model, f"{MOVE_PREFIX}{seq:06d}", json.dumps(record, sort_keys=True)))
        return AliasMove(at, alias, before, version, reason)

    def promote(self, version: str, reason: str) -> None:
        """champion -> version, previous -> the old champion; the version is tagged ``deployed_at``."""
        old = self.aliases().get(CHAMPION)
        if old is not None and old != version:
            self.set_alias(PREVIOUS, old, reason)
        move = self.set_alias(CHAMPION, version, reason, kind="deploy")
        self._call(f"tag version {version}", lambda: self.client.set_model_version_tag(
            self.model, version, DEPLOYED_TAG, iso(move.at)))

    def previous_champion(self) -> str:
        """The last version deployed before the current champion that was not rolled back since."""
        champion = self.aliases().get(CHAMPION)
        moves = [m for m in self.history() if m["alias"] == CHAMPION]
        rolled_back = {str(m["from"]) for m in moves if m.get("kind") == "rollback" and m.get("from")}
        deployed = [str(m["to"]) for m in moves if m.get("kind") == "deploy"]
        candidates = [v for v in deployed if v != champion and v not in rolled_back]
        if champion in deployed:
            # only versions deployed before the current champion's (last) deployment
            last = len(deployed) - 1 - deployed[::-1].index(champion)
            candidates = [v for v in deployed[:last] if v != champion and v not in rolled_back]
        if candidates:
            return candidates[-1]
        previous = self.aliases().get(PREVIOUS)
        if previous is None or previous == champion:
            raise RegistryError(f"MLflow {self.model}: no previous champion to roll back to (no alias history "
                                f"and no {PREVIOUS!r} alias)")
        return previous

    def restore_previous(self, reason: str) -> str:
        """champion -> the previous champion, after checking it is deployable; previous -> the one before."""
        target = self.previous_champion()
        self.check_deployable(target)
        self.set_alias(CHAMPION, target, reason, kind="rollback")
        try:
            older = self.previous_champion()
        except RegistryError:
            older = None
        if older is not None:
            self.set_alias(PREVIOUS, older, reason)
        return target

    # ---- deployability -----------------------------------------------------------------------
    def check_deployable(self, version: str) -> None:
        """The version's artifact downloads, matches its recorded checksums, and loads as a pyfunc model.
        RegistryError names the version and the artifact otherwise.

        Big weights (``drill.weights``) are not downloaded here: this check runs on the host, twice in a
        rollback (restore, start), and would copy gigabytes that the scoring server fetches and hashes anyway
        before it serves (and refuses on a mismatch). Here they must be listed at their recorded size."""
        self._note_read(version)  # the drill's verdict asks whether a sabotaged artifact was reached
        import mlflow.pyfunc

        mv = self._call(f"read version {version}", lambda: self.client.get_model_version(self.model, version))
        where = f"{self.model} version {version} (artifact {mv.source})"
        if not mv.source:  # MLflow 3 types it optional (a version may name a logged model instead)
            raise RegistryError(f"{where}: the version names no artifact source to download")
        source: str = mv.source
        tags = mv.tags or {}
        weights = recorded_weights(tags)
        with tempfile.TemporaryDirectory(prefix="drill-mlflow-check-") as tmp:
            try:
                with tracking(self.tracking_uri):
                    local, listed = _download_model(source, tmp, weights[0] if weights else None)
            except Exception as exc:  # any failure to fetch means the same thing: not deployable
                raise RegistryError(f"{where}: does not download: {_first_line(exc)}") from exc
            expected = json.loads(tags.get(CHECKSUM_TAG, "{}"))
            found = checksums(local)
            if weights is not None and listed is not None:
                if listed != weights[1]:
                    raise RegistryError(f"{where}: artifact file {weights[0]} truncated ({listed:,} bytes, the "
                                        f"registry says {weights[1]:,})")
                found[weights[0]] = expected.get(weights[0], "")  # hashed by the scoring server when it loads
            missing = sorted(set(expected) - set(found))
            if missing:
                raise RegistryError(f"{where}: artifact file {missing[0]} missing")
            changed = sorted(name for name, digest in expected.items() if found[name] != digest)
            if changed:
                raise RegistryError(f"{where}: artifact file {changed[0]} corrupt (sha256 "
                                    f"{found[changed[0]][:12]} != {expected[changed[0]][:12]})")
            try:
                with tracking(self.tracking_uri):
                    mlflow.pyfunc.load_model(str(local))
            except Exception as exc:  # unpickling errors come in every type; all mean "does not load"
                raise RegistryError(f"{where}: does not load: {_first_line(exc)}") from exc

    # ---- the rollback event ---------------------------------------------------------------------
    def record_rollback(self, event: RollbackEvent) -> None:
        """Tag the rolled-back version with the rollback event, readable through MLflow's own API and UI."""
        tags = {"to_version": event.to_version, "root_cause": event.root_cause,
                "decided_at": iso(event.decided_at) if event.decided_at else None,
                "completed_at": iso(event.completed_at) if event.completed_at else None,
                "trigger": event.trigger, "drill_run_id": event.run_id or None}
        for key, value in tags.items():
            if value is not None:
                self._tag_version(event.from_version, f"{ROLLBACK_PREFIX}{key}", value)

    def _tag_version(self, version: str, key: str, value: str) -> None:
        self._call(f"tag version {version}", lambda: self.client.set_model_version_tag(self.model, version, key, value))


def _download_model(source: str, dst: str, skip: str | None) -> tuple[Path, int | None]:
    """Download the model directory at ``source`` into ``dst``, all but the top-level file ``skip``; returns the
    local directory and ``skip``'s listed size (None when not listed)."""
    import mlflow.artifacts
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    if skip is None:
        return Path(mlflow.artifacts.download_artifacts(artifact_uri=source, dst_path=dst)), None
    repo = get_artifact_repository(source)
    listed: int | None = None
    for info in repo.list_artifacts():
        if info.path == skip:
            listed = info.file_size
        else:
            repo.download_artifacts(info.path, dst)  # type: ignore[no-untyped-call]
    return Path(dst), listed


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:300] if text else ''}"
