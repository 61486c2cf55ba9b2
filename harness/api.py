"""The library API the CLI and the pytest plugin stand on. No typer, no printing here."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from harness.engine.engine import Engine, RunOptions, resolve_profile
from harness.engine.events import Listener
from harness.engine.results import DrillResult
from harness.errors import BackendUnavailable, RunNotKept, SpecError, SpecIssue
from harness.listeners.recording import AfterStore, RunContextInfo, StoreListener
from harness.listeners.webhook import WebhookListener
from harness.programme.hashing import content_hash
from harness.report import ReportListener
from harness.spec import catalogue, variables
from harness.spec.catalogue import LoadedDrill
from harness.spec.models import RunbookSpec, load_yaml, parse_model
from harness.store import Store
from harness.targets import registry as targets

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
    kind = targets.get(drill.spec.target.kind)
    if kind is None or kind.docker:  # a stack drill does not start (external) needs no Docker
        from harness.stack.docker_api import connect

        connect().close()  # Docker unreachable: exit 3 before anything is started or written
    store = Store.open(store_url) if record else None
    # The store row first, then the report files, then the caller's listeners (a console): a listener that
    # fails is logged by the engine and never costs the row, the reports or the teardown.
    info = RunContextInfo(drill.runbook.name, content_hash(drill.runbook_path), gameday_id)
    writer = StoreListener(store, info) if store is not None else None
    rest: list[Listener] = [ReportListener(), *listeners]
    if drill.spec.notify is not None:  # the run's start, decision and result to a chat webhook (never fatal)
        hook = drill.spec.notify
        url = variables.substitute(hook.webhook, {**options.variables, "model": drill.spec.model})
        rest.append(WebhookListener(url, drill.spec.name, tuple(hook.events), hook.timeout))
    ordered: list[Listener] = [writer, *(AfterStore(writer, listener) for listener in rest)] if writer is not None else rest
    try:
        result = Engine(ordered).run(drill, options)
    except (KeyboardInterrupt, BackendUnavailable) as exc:  # RunInterrupted or an environment error: recorded?
        carried = getattr(exc, "result", None)
        if isinstance(carried, DrillResult):
            exc.result = _recorded(carried, writer)  # type: ignore[union-attr]
        raise
    finally:
        if store is not None:
            store.close()
    result = _recorded(result, writer)
    if writer is not None and not writer.written:
        lost = RunNotKept(f"the store did not take run {result.run_id} (the row was not written): {writer.error}")
        lost.result = result
        raise lost
    return result


def _recorded(result: DrillResult, writer: StoreListener | None) -> DrillResult:
    return replace(result, recorded=writer.written if writer is not None else None)


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


def base_image() -> str:
    """The tag of drill's bootstrapped Debian base (what a team's own images may build on: ``DRILL_BASE_IMAGE``)."""
    from harness.stack.images import base_tag

    return base_tag()


def build_mlflow_image(progress: Callable[[str], None], force: bool = False) -> MlflowImage:
    from harness.stack import docker_api
    from harness.targets.mlflow.image import ensure_image

    return ensure_image(docker_api.connect(), progress, force=force)


def clean(run_id: str | None = None) -> SweepResult:
    """Sweep by label (Swarm services and configs first), then let each backend undo what a killed run left
    beyond labels (Swarm: leave a swarm a killed run made and nobody uses)."""
    from functools import partial

    from harness.backends.host import sweep as backend_sweep
    from harness.backends.registry import BACKENDS, BackendKind
    from harness.stack import docker_api
    from harness.stack.cleanup import CleanupIncomplete, Failures

    client = docker_api.connect()
    failures = Failures("drill clean" + (f" --run-id {run_id}" if run_id else ""))
    try:
        swept = docker_api.sweep(client, run_id)
    except CleanupIncomplete as exc:  # the backends' own sweeps are still tried; one summary at the end
        failures.absorb(exc)
        swept = docker_api.SweepResult(0, 0, 0)
    acted: list[str] = []

    def one(kind: str, record: BackendKind) -> None:
        if backend_sweep(record, client, run_id):
            acted.append(kind)

    for kind, record in BACKENDS.kinds().items():
        failures.attempt(f"the {kind} backend's sweep", partial(one, kind, record))
    failures.raise_if_any()
    return replace(swept, left_swarm="swarm" in acted)


@dataclass(frozen=True)
class Validated:
    path: Path
    kind: str  # drill | runbook | plan
    name: str


def validate(paths: Sequence[Path]) -> list[Validated]:
    """Validate drill and runbook files and GameDay plans (kind told by content); every issue of every file at once."""
    issues: list[SpecIssue] = []
    ok: list[Validated] = []
    for path in paths:
        try:
            data, _ = load_yaml(path)
            if "participants" in data:  # a GameDay plan: its drills and runbooks are checked with it
                from harness.programme.gameday_check import prepare

                ok.append(Validated(path, "plan", prepare(path, None).plan.name))
            elif "retrospective" in data:
                raise SpecError(SpecIssue(str(path), "-", "a GameDay answers file: check it with its plan, "
                                          f"`drill gameday PLAN.yaml --answers {path} --check`"))
            elif "steps" in data:
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
