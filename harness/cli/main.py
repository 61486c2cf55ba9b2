"""`drill`: parse, call the library (harness.api), render, map errors to exit codes. Nothing else."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from harness import __version__, api, targets
from harness.cli.cluster import cluster_app
from harness.cli.common import DrillGroup, StoreOpt, err, mapped_errors
from harness.cli.confirm import confirm_reach, external_plan, stop_plan
from harness.engine.engine import RunInterrupted, RunOptions, resolve_profile
from harness.engine.events import Listener
from harness.engine.human import HumanInput
from harness.engine.results import DrillResult, RunStatus
from harness.engine.signals import terminating_on_sigterm
from harness.errors import BackendUnavailable, RunNotKept, SpecError, SpecIssue
from harness.exit_codes import ExitStatus
from harness.listeners.console import LiveConsole, PlainConsole, image_progress
from harness.report.markdown import render as render_markdown
from harness.report.outcome import expectation, outcome
from harness.spec import catalogue, variables
from harness.spec.models import FaultSpec, NoiseSpec
from harness.targets.compose.spec import ComposeTargetSpec
from harness.targets.image.spec import ImageTargetSpec

app = typer.Typer(help="Rollback runbook drill harness: prove your model rollback path works.", cls=DrillGroup,
                  no_args_is_help=True, pretty_exceptions_enable=False)
images_app = typer.Typer(help="Stack images (built locally; no registry needed).", no_args_is_help=True)
runbook_app = typer.Typer(help="Runbooks.", no_args_is_help=True)
app.add_typer(images_app, name="images")
app.add_typer(runbook_app, name="runbook")
app.add_typer(cluster_app, name="cluster")



def _version(value: bool) -> None:
    if value:
        typer.echo(f"drill {__version__}")
        raise typer.Exit()


@app.callback()
def _main(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                                help="Print the version and exit.")] = False) -> None:
    """Rollback runbook drill harness: prove your model rollback path works."""


def _backend_flag(value: str | None) -> str | None:
    """``--backend``: a registered backend kind (checked before anything loads)."""
    from harness import backends

    if value is not None and backends.get(value) is None:
        raise SpecError(SpecIssue("--backend", "--backend", f"no backend {value!r}; known: {', '.join(sorted(backends.kinds()))}"))
    return value


@app.command()
def run(
    name: Annotated[str | None, typer.Argument(help="Drill name (drills/NAME.yaml) or a path")] = None,
    all_drills: Annotated[bool, typer.Option(
        "--all", help="Run the project's drills ($DRILL_PATH, ./drills) in sequence; the catalogue where there is none")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result JSON on stdout")] = False,
    report_dir: Annotated[Path, typer.Option("--report-dir", help="Where reports/<run-id>/ go")] = Path("reports"),
    store: StoreOpt = None,
    profile: Annotated[str, typer.Option(help="Drill profile: ci (fast, automated) or quarterly (human decision)")] = "ci",
    manual: Annotated[bool, typer.Option("--manual", help="A person decides (prompt on stdin)")] = False,
    answers: Annotated[Path | None, typer.Option(help="Answers file for the human prompts, one a line")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the plan; start nothing")] = False,
    backend: Annotated[str | None, typer.Option(
        help="Where model versions run: docker, swarm or a registered backend (default: the drill's own choice, docker)")] = None,
    var: Annotated[list[str] | None, typer.Option(
        "--var", metavar="KEY=VALUE", help="Set ${KEY} for runbooks (repeatable); built-ins cannot be overridden")] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Confirm a drill aimed at an environment beyond loopback "
                                      "(its environment: field) without asking")] = False,
) -> None:
    """Run a rollback drill against a real container stack."""
    with mapped_errors(), terminating_on_sigterm():  # also between the drills of --all
        run_vars = variables.parse_vars(var or [])
        backend = _backend_flag(backend)
        if all_drills == (name is not None):
            raise SpecError("give one drill NAME, or --all")
        names = catalogue.project_drill_names() if all_drills else [name or ""]
        loaded = [catalogue.load_drill(n) for n in names]  # validate everything before starting anything
        for drill in loaded:
            resolve_profile(drill, profile, manual)
            targets.check_backend(drill, backend)
            variables.check_drill(drill, run_vars)
        if dry_run:
            for drill in loaded:
                typer.echo(plan(drill, profile, backend))
            return
        if answers is not None and not answers.is_file():
            raise SpecError(f"--answers: no such file {answers}")
        confirm_reach(loaded, yes)
        needs_human = manual or any(d.spec.profiles.get(profile) and d.spec.profiles[profile].decision == "manual"
                                    for d in loaded)
        human = HumanInput(answers.open() if answers else sys.stdin) if needs_human else None
        results: list[DrillResult] = []
        not_kept = False  # --all: a drill that ran but whose teardown failed or whose row was not written (exit 3)
        not_run: list[tuple[str, str, DrillResult | None]] = []  # --all: what this environment cannot run (fewer nodes…)
        for drill in loaded:
            options = RunOptions(profile=profile, report_root=report_dir, manual=manual, human=human,
                                 backend=backend, variables=run_vars)
            listeners: list[Listener] = []
            live = None
            if as_json or not sys.stderr.isatty() or needs_human:
                listeners.append(PlainConsole(sys.stderr))
            else:
                live = LiveConsole(err)
                listeners.append(live)
            try:
                results.append(api.run_drill(drill, options, listeners, store_url=store))  # validated above
            except RunNotKept as exc:  # it ran: a real result (the table and JSON show it), then exit 3
                if not all_drills or exc.result is None:
                    if as_json and exc.result is not None:
                        typer.echo(json.dumps(_json(exc.result), indent=2))
                    raise
                err.print(f"environment: {drill.spec.name}: {exc}", markup=False)
                results.append(exc.result)
                not_kept = True
            except (RunInterrupted, BackendUnavailable) as exc:
                if all_drills and isinstance(exc, BackendUnavailable):
                    # One drill's environment (a multi-node drill on one engine) does not stop the others.
                    err.print(f"environment: {drill.spec.name}: {exc}", markup=False)
                    not_run.append((drill.spec.name, str(exc), exc.result))  # recorded as an error if it had started
                    continue
                # --json prints a result on every outcome that has one, aborted and environment errors included.
                if as_json and exc.result is not None:
                    typer.echo(json.dumps([*(_json(r) for r in results), _json(exc.result)] if all_drills
                                          else _json(exc.result), indent=2))
                raise
            finally:
                if live is not None:
                    live.stop()
        if as_json:
            payload = _json(results[0]) if not all_drills else [
                *(_json(r) for r in results),
                *({**(_json(r) if r is not None else {"drill": n}), "status": "not_run", "outcome": "not run here",
                   "reason": why} for n, why, r in not_run)]
            typer.echo(json.dumps(payload, indent=2))
        if all_drills:
            _summary_table(results, not_run)
        worst = max((*(exit_status(r) for r in results), *((ExitStatus.ENVIRONMENT,) if not_run or not_kept else ())),
                    default=ExitStatus.OK)
        raise typer.Exit(int(worst))


def _json(result: DrillResult) -> dict[str, object]:
    """The result JSON with the outcome as a person reads it beside ``expect`` and ``as_expected``."""
    return {**result.to_json(), "outcome": outcome(result).label}


def exit_status(result: DrillResult) -> ExitStatus:
    """0 when the run ended as its drill expected (a broken-path drill that failed on its sabotage too)."""
    if result.status is RunStatus.ABORTED:  # a stop condition's abort: the way back was not proven
        return ExitStatus.DRILL_FAILED if result.stopped_by is not None else ExitStatus.INTERRUPTED
    return ExitStatus.OK if outcome(result).as_expected else ExitStatus.DRILL_FAILED


def plan(drill: catalogue.LoadedDrill, profile: str, backend: str | None = None) -> str:
    s = drill.spec
    prof = s.profiles.get(profile)
    where = backend or s.backend
    lines = [f"drill {s.name} ({drill.drill_path}) — {s.description}",
             f"  profile {profile}: " + (f"baseline {prof.baseline:g}s, decision {prof.decision}" if prof else "UNKNOWN"),
             "  prepare: images, network, registry volume, stable model server, router, Prometheus"
             + (f" (Swarm services: stable x{s.replicas.stable}, candidate x{s.replicas.candidate}; a swarm made and left"
                " for the run if the engine is in none" + (f"; needs {s.nodes} nodes" if s.nodes > 1 else "") + ")"
                if where == "swarm" else "")
             + (f" — target {s.target.kind}" + (": an MLflow server, versions 1-3 of the model logged to it, scoring"
                                                " servers loading them" if s.target.kind == "mlflow" else "")
                if s.target.kind != "builtin" else ""),
             f"  baseline: {s.traffic.rate:g} req/s through the router"
             + (f"; noise on every version: {s.noise.error_rate:.1%} errors, {s.noise.latency_jitter * 1000:g} ms jitter, "
                f"{s.noise.wrong_rate:.1%} wrong answers" if s.noise != NoiseSpec() else ""),
             *[f"  preflight {i}. {st.name}: {st.action} {st.params or ''}" for i, st in enumerate(s.preflight, 1)],
             f"  deploy: {s.strategy.kind if s.strategy.kind == 'canary' else s.strategy.summary} of the candidate"
             + (f" at {s.strategy.weight}%" if s.strategy.kind == "canary" else "") + f" with fault {s.fault.kind}",
             "  detect: " + "; ".join([f"{m.name} > {m.failure_above:g} (min {m.min_samples} samples)" for m in s.detection.metrics]
                                      + [f"{c.name}: {c.method} test of client {c.measure} vs baseline" for c in s.detection.compare])
             + f" (alpha {s.detection.alpha:g}" + (f" split over {len(s.strategy.stages)} stages), each within its budget"
                                                    if s.strategy.stages else f"), up to {s.detection.max_wait:g}s")
             + f"; expect {s.expected}"
             + (f" (sabotage {s.sabotage}: the rollback must stop on the stable version's broken artifact)" if s.sabotage != "none"
                and s.expect is None else "") + (f", the reason saying {s.fails_with!r}" if s.fails_with else ""),
             *[f"  adversity: {a.kind} ({a.slot}) at {a.at} for {a.for_:g}s" for a in s.adversity],
             *stop_plan(drill),
             f"  runbook {drill.runbook.name} ({drill.runbook_path}):"]
    if isinstance(s.target, ImageTargetSpec):
        lines[2:3] = _image_plan(s.target, s.fault)
    elif s.target.kind == "external":
        lines[2:3] = external_plan(drill)
    elif isinstance(s.target, ComposeTargetSpec):
        lines[2:4] = _compose_plan(s.target, s.traffic.rate)
    lines += [f"    {i}. {st.name}: {st.action} {st.params or ''}" + (" [manual]" if st.manual else "")
              for i, st in enumerate(drill.runbook.steps, 1)]
    lines.append(f"  target: decision -> completion within {s.time_target:g}s")
    return "\n".join(lines)


def _image_plan(target: ImageTargetSpec, fault: FaultSpec) -> list[str]:
    def source(name: str) -> str:
        v = target.versions[name]
        return f"image {v.image}" if v.image else f"built from {v.build.context}" if v.build else "?"

    roles = [("stable", target.stable), ("candidate", target.candidate)] + ([("previous", target.previous)] if target.previous else [])
    injected = f"{fault.kind} on {fault.rate if fault.rate is not None else 1.0:.0%} in front of the candidate" if fault.inject else "none injected"
    return ["  prepare: " + "; ".join(f"{role} {name} ({source(name)})" for role, name in roles),
            f"           serving :{target.port}{target.predict_path}, health {target.health_path}; router, Prometheus; fault: {injected}"]


def _compose_plan(target: ComposeTargetSpec, rate: float) -> list[str]:
    entry = target.entrypoint
    return [f"  prepare: the team's Compose project ({', '.join(f.name for f in target.files)} in {target.directory}) under a "
            f"run-scoped name, with drill's override (labels, {entry.service}:{entry.port} on 127.0.0.1, limits)",
            f"           deploy: {' '.join(target.deploy)}" + (f"; promote: {' '.join(target.promote)}" if target.promote else ""),
            f"  baseline: {rate:g} req/s through the team's gateway ({entry.service})"]


def _summary_table(results: list[DrillResult], not_run: list[tuple[str, str, DrillResult | None]]) -> None:
    table = Table("drill", "expected", "outcome", "as expected", "status", "decision", "detect", "decision→completion",
                  "within target", "reason")
    for r in results:
        verdict = outcome(r)
        style = "green" if verdict.as_expected else "red"
        table.add_row(r.drill, expectation(r), f"[{style}]{verdict.label}[/]", f"[{style}]{'yes' if verdict.as_expected else 'NO'}[/]",
                      r.status.value, f"{r.decision or '—'} ({r.trigger or '—'})",
                      f"{r.detect_s}s" if r.detect_s is not None else "—",
                      f"{r.decision_to_completion_s}s" if r.decision_to_completion_s is not None else "—",
                      "yes" if r.within_target else "no" if r.within_target is False else "—", r.reason)
    for name, why, _result in not_run:
        table.add_row(name, "—", "[yellow]not run here[/]", "—", "—", "—", "—", "—", "—", why)
    Console(stderr=True, width=None if sys.stderr.isatty() else 200).print(table)
    missed = sum(not outcome(r).as_expected for r in results)
    err.print(f"{len(results) - missed} of {len(results)} drill(s) ended as expected"
              + (f"; {missed} did not" if missed else "")
              + (f"; {len(not_run)} could not run in this environment (exit 3)" if not_run else ""), markup=False)


@app.command()
def clean(run_id: Annotated[str | None, typer.Option(help="Only this run's resources")] = None) -> None:
    """Remove every container, network, volume and Swarm service/config a drill left behind (found by label)."""
    with mapped_errors():
        swept = api.clean(run_id)
    typer.echo(f"removed {swept.containers} container(s), {swept.networks} network(s), {swept.volumes} volume(s), "
               f"{swept.services} Swarm service(s), {swept.configs} Swarm config(s), {swept.image_tags} run image tag(s)"
               + ("; left the swarm a drill had made" if swept.left_swarm else ""))


@images_app.command("build")
def images_build(force: Annotated[bool, typer.Option(help="Rebuild even if up to date")] = False,
                 mlflow: Annotated[bool, typer.Option("--mlflow", help="Also the MLflow target's image (needs the mlflow extra's pip)")] = False) -> None:
    """Make the stack images: reuse, pull, or bootstrap a Debian base."""
    with mapped_errors(), image_progress(err) as progress:
        images = api.build_images(progress, force=force)
        built = api.build_mlflow_image(progress, force=force) if mlflow else None
    typer.echo(f"images ready ({images.source}, {images.seconds:.1f}s): {images.model} {images.router} {images.prometheus}")
    typer.echo(f"base image: {api.base_image()} (DRILL_BASE_IMAGE for a team's own images built on it)")
    if built is not None:
        typer.echo(f"MLflow image ready ({built.source}, {built.seconds:.1f}s): {built.tag}")


@app.command()
def validate(paths: Annotated[list[Path], typer.Argument(help="Drill and runbook YAML files, GameDay plans")]) -> None:
    """Validate drill and runbook files and GameDay plans (with their drills); no Docker needed."""
    with mapped_errors():
        for item in api.validate(paths):
            typer.echo(f"ok  {item.kind:<8} {item.name}  ({item.path})")


@app.command("list")
def list_drills() -> None:
    """The drills in the catalogue."""
    with mapped_errors():
        drills = api.list_drills()
    table = Table("drill", "strategy", "fault", "root cause", "expect", "runbook")
    for d in drills:
        s = d.spec
        table.add_row(s.name, s.strategy.summary,
                      s.fault.kind, s.root_cause, s.expected, s.runbook)
    Console(width=None if sys.stdout.isatty() else 160).print(table)


@runbook_app.command("show")
def runbook_show(name: str) -> None:
    """A runbook rendered as Markdown (for a wiki or an ops binder)."""
    from harness.report.runbook_md import render

    with mapped_errors():
        runbook, path = catalogue.load_runbook(name)
    typer.echo(render(runbook, path))


def _register_subcommands() -> None:
    from harness.cli import docs as docs_cli
    from harness.cli import gameday as gameday_cli  # issue 20: the programme (gameday, rca, status, release-notes)
    from harness.cli import init as init_cli
    from harness.cli import rca as rca_cli
    from harness.cli import release_notes as release_notes_cli
    from harness.cli import report as report_cli
    from harness.cli import runs as runs_cli
    from harness.cli import status as status_cli
    from harness.cli import store as store_cli

    store_cli.register(app)
    rca_cli.register(app)
    status_cli.register(app)
    release_notes_cli.register(app)
    gameday_cli.register(app)

    report_cli.register(app)
    runs_cli.register(app)
    docs_cli.register(app)
    init_cli.register(app)


_register_subcommands()


def main() -> None:
    app()


__all__ = ["app", "main", "render_markdown"]


if __name__ == "__main__":
    main()
