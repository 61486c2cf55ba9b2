"""docs/external.md stays true without a cluster: its Kubernetes staging drills load (with their runbook and
request file) as `drill run` would load them, every move is a `kubectl` call (KServe's InferenceService, the
Argo Rollouts plugin), every JSON patch is valid JSON once its ${...} are filled in, and `drill run` refuses to
start them unconfirmed. The reference pages, generated from the models, show the new fields."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from harness.authoring import reference
from harness.cli.main import app
from harness.exit_codes import ExitStatus
from harness.guards.spec import is_loopback, url_host
from harness.spec import catalogue
from harness.targets.external.runner import Runner
from harness.targets.external.spec import ExternalTargetSpec
from harness.targets.external.target import TeamMoves
from tests.conftest import ROOT

DOC = ROOT / "docs" / "external.md"
TITLED = re.compile(r'^```(?P<lang>\w+) title="(?P<path>[^"]+)"\n(?P<body>.*?)^```', re.S | re.M)
SAMPLES = re.compile(r"^```json\n(?P<body>.*?)^```", re.S | re.M)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("team")
    text = DOC.read_text(encoding="utf-8")
    for block in TITLED.finditer(text):
        path = root / block["path"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(block["body"], encoding="utf-8")
    samples = SAMPLES.search(text)
    assert samples is not None
    (root / "samples.jsonl").write_text(samples["body"], encoding="utf-8")
    return root


def _drills(project: Path) -> list[catalogue.LoadedDrill]:
    return [catalogue.load_drill(str(p)) for p in sorted((project / "drills").glob("*.yaml"))]


def test_the_staging_drills_load_with_their_runbook(project: Path) -> None:
    drills = _drills(project)
    assert [d.spec.name for d in drills] == ["fraud-argo-staging", "fraud-kserve-staging"]
    for drill in drills:
        target = drill.spec.target
        assert isinstance(target, ExternalTargetSpec)
        assert drill.spec.environment == "staging" and not is_loopback(url_host(target.url))
        assert drill.runbook.name == "staging-rollback"
        assert drill.spec.traffic.rate <= 100
    kinds = {g.kind for d in drills for g in d.spec.stop_conditions}
    assert kinds == {"promql", "error_budget", "http"}


def test_every_move_is_kubectl_and_every_patch_is_json_once_filled_in(project: Path, tmp_path: Path) -> None:
    seen: set[str] = set()
    for drill in _drills(project):
        target = drill.spec.target
        assert isinstance(target, ExternalTargetSpec)
        moves = TeamMoves(target, Runner(tmp_path), {"candidate_version": "v8", "stable_version": "v7",
                                                     "previous_version": "v6", "model": "fraud", "run_id": "r",
                                                     "environment": "staging", "weight": "10"})
        for purpose in ("deploy", "promote", "rollback", "abort"):
            commands = getattr(target, purpose)
            assert commands, f"{drill.spec.name}: no {purpose} commands"
            for command in commands:
                argv = moves.argv(command)
                assert argv[0] == "kubectl", argv
                assert not any("${" in arg for arg in argv), argv
                seen.add(" ".join(argv[:3]))
                if "-p" in argv:
                    json.loads(argv[argv.index("-p") + 1])  # a malformed patch would fail only in staging
                if argv[1:3] == ["argo", "rollouts"]:
                    assert argv[3] in ("set", "promote", "abort", "undo", "status"), argv
    assert {"kubectl patch inferenceservice", "kubectl argo rollouts", "kubectl wait inferenceservice/fraud"} <= seen


def test_an_unconfirmed_run_is_refused_before_anything_starts(project: Path, tmp_path: Path) -> None:
    drill = project / "drills" / "fraud-kserve-staging.yaml"
    result = CliRunner().invoke(app, ["run", str(drill), "--store", str(tmp_path / "s.db"),
                                      "--report-dir", str(tmp_path / "reports")])
    assert result.exit_code == ExitStatus.BAD_INPUT, result.output
    assert "environment 'staging'" in result.output and "--yes" in result.output
    assert not (tmp_path / "reports").exists()


def test_the_reference_shows_the_external_target_and_the_stop_conditions() -> None:
    generated = reference.pages(get_command(app))
    page = generated["reference/drill.md"]
    for needle in ("`target` (kind: external)", "`stop_conditions[]` (kind: promql)", "`stop_conditions[]` (kind: http)",
                   "`stop_conditions[]` (kind: error_budget)", "| `environment` |", "| `max_error_rate` |",
                   "| `abort` |", "| `command_timeout` |"):
        assert needle in page, needle
    assert "`--yes`" in generated["reference/cli.md"]
