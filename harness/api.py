"""The library API the CLI and the pytest plugin stand on. No typer, no printing here."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from harness.engine.engine import Engine, RunOptions, resolve_profile
from harness.engine.events import Listener
from harness.engine.results import DrillResult
from harness.errors import SpecError, SpecIssue
from harness.listeners.recording import RunContextInfo, StoreListener
from harness.listeners.webhook import WebhookListener
from harness.programme.hashing import content_hash
from harness.report import ReportListener
from harness.spec import catalogue, variables
from harness.spec.catalogue import LoadedDrill
from harness.spec.models import RunbookSpec, load_yaml, parse_model
from harness.store import Store

if TYPE_CHECKING:  # Docker is loaded only by the commands that need it, never by validate or list
    from harness.stack.docker_api import SweepResult
    from harness.stack.images import StackImages
    from harness.targets.mlflow.image import MlflowImage


def run_drill(name: str | LoadedDrill, options: RunOptions = RunOptions(), listeners: Sequence[Listener] = (),
              store_url: str | None = None, record: bool = True, gameday_id: str | None = None) -> DrillResult:
    """Run a drill (a name or path is loaded and fully validated first; a loaded drill is used as it is), open
    the store, run, write reports, record the run (with the GameDay it belongs to, if any)."""
    drill = catalogue.load_drill(name) if isinstance(name, str) else name
    resolve_profile(drill, options.profile, options.manual)  # bad input fails before anything is opened
    variables.check_drill(drill, options.variables)
    check_report_root(options.report_root)
    from harness.stack.docker_api import connect

    connect().close()  # Docker unreachable: exit 3 before anything is started or written
    store = Store.open(store_url) if record else None
    # The store row first, then the report files, then the caller's listeners (a console): a listener that
    # fails is logged by the engine and never costs the row, the reports or the teardown.
    info = RunContextInfo(drill.runbook.name, content_hash(drill.runbook_path), gameday_id)
    ordered: list[Listener] = [StoreListener(store, info)] if store is not None else []
    ordered += [ReportListener(), *listeners]
    if drill.spec.notify is not None:  # the run's start, decision and result to a chat webhook (never fatal)
        hook = drill.spec.notify
        url = variables.substitute(hook.webhook, {**options.variables, "model": drill.spec.model})
        ordered.append(WebhookListener(url, drill.spec.name, tuple(hook.events), hook.timeout))
    try:
        return Engine(ordered).run(drill, options)
    finally:
        if store is not None:
            store.close()


def check_report_root(root: Path) -> None:
    """The report directory must be creatable and writable before anything starts (SpecError naming it otherwise).
    Nothing is created here: the nearest existing ancestor is checked."""
    existing = root.absolute()
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise SpecError(SpecIssue(str(root), "--report-dir", f"cannot write reports there: {existing} is not a directory"))
    if not os.access(existing, os.W_OK | os.X_OK):
        raise SpecError(SpecIssue(str(root), "--report-dir", f"cannot write reports there: {existing} is not writable"))


def build_images(progress: Callable[[str], None], force: bool = False) -> StackImages:
    from harness.stack import docker_api
    from harness.stack.images import ensure_images

    return ensure_images(docker_api.connect(), progress, force=force)


def build_mlflow_image(progress: Callable[[str], None], force: bool = False) -> MlflowImage:
    from harness.stack import docker_api
    from harness.targets.mlflow.image import ensure_image

    return ensure_image(docker_api.connect(), progress, force=force)


def clean(run_id: str | None = None) -> SweepResult:
    """Sweep by label (Swarm services and configs first), then let each backend undo what a killed run left
    beyond labels (Swarm: leave a swarm a killed run made and nobody uses)."""
    from dataclasses import replace

    from harness.backends.host import sweep as backend_sweep
    from harness.backends.registry import BACKENDS
    from harness.stack import docker_api

    client = docker_api.connect()
    swept = docker_api.sweep(client, run_id)
    acted = [kind for kind, record in BACKENDS.kinds().items() if backend_sweep(record, client, run_id)]
    return replace(swept, left_swarm="swarm" in acted)


@dataclass(frozen=True)
class Validated:
    path: Path
    kind: str  # drill | runbook
    name: str


def validate(paths: Sequence[Path]) -> list[Validated]:
    """Validate drill and runbook files (kind told by content); every issue of every file at once."""
    issues: list[SpecIssue] = []
    ok: list[Validated] = []
    for path in paths:
        try:
            data, _ = load_yaml(path)
            if "steps" in data:
                rb = parse_model(path, RunbookSpec)
                found = catalogue.check_runbook(path, rb)
                if found:
                    raise SpecError(found)
                ok.append(Validated(path, "runbook", rb.name))
            else:
                ok.append(Validated(path, "drill", catalogue.load_drill(str(path)).spec.name))  # every error at once
        except SpecError as exc:
            issues.extend(exc.issues)
    if issues:
        raise SpecError(issues)
    return ok


def list_drills() -> list[LoadedDrill]:
    return [catalogue.load_drill(name) for name in catalogue.drill_names()]
