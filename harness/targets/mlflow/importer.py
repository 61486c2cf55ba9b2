"""Production history from MLflow: alias moves and rollback tags -> store events (``drill import --from mlflow``).

What is read, per registered model (all of them, or ``--model NAME``):

* deployments: every move of the ``champion`` alias recorded as a model tag ``drill.alias_move.NNNNNN`` with
  ``"kind": "deploy"`` (the registry adapter writes these), and every version tag ``deployed_at`` (ISO-8601
  with an offset) -- the one tag a team's own pipeline must write when a version goes live;
* rollbacks: every version with the tags ``rollback.decided_at``, ``rollback.completed_at``,
  ``rollback.to_version``, ``rollback.trigger`` (automated | manual) and ``rollback.root_cause`` (performance,
  safety, infrastructure, upstream-data, business-rule, other); optional ``rollback.planned`` (true | false)
  and ``rollback.rca_url``, ``rollback.cause_keys`` (the post-mortem's findings, comma-separated).

Events written by a drill (a move or a rollback carrying a drill run id) go to the ``drill`` environment, the
rest to ``--environment`` (production). Every tag is validated before anything is written; a bad one is a
SpecError naming the model, the version and the tag, so the import is all or nothing, like a JSONL import.
"""

from __future__ import annotations

import json
from typing import Any

from harness.errors import BackendUnavailable, SpecError, SpecIssue
from harness.store.causes import split_cause_keys
from harness.store.codec import event_from_json
from harness.store.records import DRILL_ENVIRONMENT, PRODUCTION, Deployment, Event
from harness.targets.mlflow.registry import DEPLOYED_TAG, MOVE_PREFIX, ROLLBACK_PREFIX

ROLLBACK_FIELDS = ("decided_at", "completed_at", "to_version", "trigger", "root_cause", "planned", "rca_url")


def _client(tracking_uri: str) -> Any:
    from mlflow import MlflowClient

    import harness.targets.mlflow.registry  # noqa: F401  (bounded retries for the HTTP client)

    return MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)


def read_events(tracking_uri: str, model: str | None = None, environment: str = PRODUCTION) -> list[Event]:
    """Every deployment and rollback the registry at ``tracking_uri`` records; SpecError lists every bad tag."""
    from mlflow.exceptions import MlflowException

    try:
        client = _client(tracking_uri)
        models = [client.get_registered_model(model)] if model else list(client.search_registered_models())
        versions = {rm.name: list(client.search_model_versions(f"name='{rm.name}'")) for rm in models}
    except MlflowException as exc:
        if model and "RESOURCE_DOES_NOT_EXIST" in str(exc.error_code):
            raise SpecError(SpecIssue(tracking_uri, "--model", f"no registered model {model!r}")) from None
        if "MLFLOW_ALLOW_FILE_STORE" in exc.message:  # MLflow 3 refuses a file store (./mlruns) unless allowed
            raise SpecError(SpecIssue(tracking_uri, "--tracking-uri", "MLflow 3 refuses a file store: point at the "
                                      "tracking server, or set MLFLOW_ALLOW_FILE_STORE=true")) from None
        raise BackendUnavailable(f"cannot read the MLflow registry at {tracking_uri}: {exc.message[:300]}") from None
    except OSError as exc:
        raise BackendUnavailable(f"cannot reach the MLflow registry at {tracking_uri}: {exc}") from None
    events: list[Event] = []
    issues: list[SpecIssue] = []
    for rm in models:
        for parse in (_moves, _versions):
            try:
                events.extend(parse(tracking_uri, rm, versions[rm.name], environment))
            except SpecError as exc:
                issues.extend(exc.issues)
    if issues:
        raise SpecError(issues)
    return _unique(events)


def _moves(uri: str, rm: Any, _versions: list[Any], environment: str) -> list[Event]:
    out: list[Event] = []
    issues: list[SpecIssue] = []
    for key, value in sorted((rm.tags or {}).items()):
        if not key.startswith(MOVE_PREFIX):
            continue
        where = f"{uri} models:/{rm.name}"
        try:
            move = json.loads(value)
        except ValueError as exc:
            issues.append(SpecIssue(where, f"tag {key}", f"not an alias move: {exc}"))
            continue
        if not isinstance(move, dict):
            issues.append(SpecIssue(where, f"tag {key}", "not an alias move: not a JSON object"))
            continue
        if move.get("alias") != "champion" or move.get("kind") != "deploy":
            continue
        env = DRILL_ENVIRONMENT if move.get("run_id") else environment
        try:
            out.append(event_from_json({"type": "deployment", "model": rm.name, "version": str(move.get("to")),
                                        "deployed_at": move.get("at"), "environment": env}, where))
        except SpecError as exc:
            issues += [SpecIssue(i.file, f"tag {key}: {i.field}", i.message) for i in exc.issues]
    if issues:
        raise SpecError(issues)
    return out


def _versions(uri: str, rm: Any, versions: list[Any], environment: str) -> list[Event]:
    out: list[Event] = []
    issues: list[SpecIssue] = []
    for mv in versions:
        tags = {str(k): str(v) for k, v in (mv.tags or {}).items()}
        where = f"{uri} models:/{rm.name}/{mv.version}"
        if DEPLOYED_TAG in tags:
            try:
                out.append(event_from_json({"type": "deployment", "model": rm.name, "version": str(mv.version),
                                            "deployed_at": tags[DEPLOYED_TAG], "environment": environment}, where))
            except SpecError as exc:
                issues += [SpecIssue(i.file, f"tag {DEPLOYED_TAG}", i.message) for i in exc.issues]
        rollback = {f: tags[ROLLBACK_PREFIX + f] for f in ROLLBACK_FIELDS if ROLLBACK_PREFIX + f in tags}
        if not rollback:
            continue
        obj: dict[str, Any] = {"type": "rollback", "model": rm.name, "from_version": str(mv.version), **rollback,
                               "environment": DRILL_ENVIRONMENT if tags.get(ROLLBACK_PREFIX + "drill_run_id")
                               else environment}
        if ROLLBACK_PREFIX + "cause_keys" in tags:  # one tag, keys separated by commas or spaces
            obj["cause_keys"] = split_cause_keys(tags[ROLLBACK_PREFIX + "cause_keys"])
        if "planned" in obj:
            obj["planned"] = {"true": True, "false": False}.get(obj["planned"].lower(), obj["planned"])
        try:
            out.append(event_from_json(obj, where))
        except SpecError as exc:
            issues += [SpecIssue(i.file, f"tag {ROLLBACK_PREFIX}{i.field}", i.message) for i in exc.issues]
    if issues:
        raise SpecError(issues)
    return out


def _unique(events: list[Event]) -> list[Event]:
    """A deployment recorded both as an alias move and as a version tag is one deployment."""
    seen: set[tuple[str, ...]] = set()
    out: list[Event] = []
    for event in events:
        key = (("d", event.model, event.version, event.deployed_at.isoformat()) if isinstance(event, Deployment)
               else ("r", event.model, event.from_version, event.decided_at.isoformat()))
        if key not in seen:
            seen.add(key)
            out.append(event)
    return out
