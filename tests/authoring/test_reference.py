"""The documentation site's reference pages are generated from the models and registries, and cover them all;
the site builds strictly; and the small things a new user met (issue 21, finding 7) stay fixed."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.main import get_command
from typer.testing import CliRunner

from harness import targets
from harness.authoring.describe import ParamDoc, action_docs, fault_docs, params_of
from harness.authoring.reference import pages, sections
from harness.authoring.scaffold import scaffold
from harness.cli.main import app
from harness.runbook import actions
from harness.spec.catalogue import load_drill
from harness.spec.models import FAULT_KINDS, DrillSpec, NotifySpec, RunbookSpec
from tests.conftest import ROOT, in_ci

RUNNER = CliRunner()
CLI = get_command(app)


def test_every_drill_and_runbook_field_is_on_its_page_with_a_meaning() -> None:
    generated = pages(CLI)
    for root, page in ((DrillSpec, "reference/drill.md"), (RunbookSpec, "reference/runbook.md")):
        text = generated[page]
        for section in sections(root):
            for p in params_of(section.model):
                assert p.description, f"{section.model.__name__}.{p.name} has no Field description"
                assert re.search(rf"^\| (\[)?`{re.escape(p.name)}`", text, re.M), f"{page}: no row for {section.path}.{p.name}"
    # every registered target kind has its own section, with its own fields
    for kind, record in targets.kinds().items():
        assert f"(kind: {kind})" in generated["reference/drill.md"]
        assert all(f"`{name}`" in generated["reference/drill.md"] for name in record.spec.model_fields)


def test_actions_and_faults_pages_come_from_the_same_source_as_the_commands() -> None:
    generated = pages(CLI)
    for name, action in actions.registry().items():
        assert f"## `{name}`" in generated["reference/actions.md"]
        assert all(f"`{f.alias or p}`" in generated["reference/actions.md"] for p, f in action.params.model_fields.items())
    faults_page = generated["reference/faults.md"]
    rows = {line.split("`")[1]: line for line in faults_page.splitlines() if line.startswith("| [`")}
    for doc in fault_docs():
        assert f"| {', '.join(doc.targets)} |" in rows[doc.kind], rows[doc.kind]
    out = RUNNER.invoke(app, ["faults"])
    assert out.exit_code == 0 and "target kinds: image (inject: true)" in out.stdout


def test_the_commands_page_lists_every_command() -> None:
    text = pages(CLI)["reference/cli.md"]
    for name in ("run", "validate", "init", "images build", "runbook show", "record deploy", "docs reference", "metrics"):
        assert f"## `drill {name} " in text, name


def test_drill_docs_reference_writes_the_pages(tmp_path: Path) -> None:
    out = RUNNER.invoke(app, ["docs", "reference", str(tmp_path)])
    assert out.exit_code == 0, out.output
    assert {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.md")} == set(pages(CLI))
    assert (tmp_path / "reference" / "drill.md").read_text() == pages(CLI)["reference/drill.md"]


def test_fault_kinds_say_which_target_kinds_take_them_and_validation_agrees(tmp_path: Path) -> None:
    (tmp_path / "r.jsonl").write_text('{"body": {}}\n')
    image = {"kind": "image", "request": {"source": str(tmp_path / "r.jsonl")},
             "versions": {"a": {"image": "x:1"}, "b": {"image": "x:2"}}, "stable": "a", "candidate": "b"}
    blocks = {"builtin": {"kind": "builtin"}, "image": image, "mlflow": {"kind": "mlflow"}}
    docs = {d.kind: d for d in fault_docs()}
    assert set(docs) == set(FAULT_KINDS)
    assert docs["error"].targets == ("image (inject: true)",) and "builtin" in docs["error_slice"].targets
    assert {p.name for p in docs["latency"].params} == {"ms", "inject", "rate"}  # finding 2: latency's injected fields
    for kind, doc in docs.items():
        needed = {p.name: (1 if p.type in ("int", "float") else "x0") for p in doc.params if p.required and p.name != "inject"}
        for target, block in blocks.items():
            for inject in (False, True):
                fault = {"kind": kind, **needed, **({"inject": True} if inject else {})}
                label = f"{target} (inject: true)" if inject and kind != "none" else target
                ok = label in doc.targets or (kind == "none" and target in doc.targets)
                drill = {"name": "d", "root_cause": "other", "fault": fault, "target": block, "runbook": "r",
                         "detection": {"compare": [{"name": "e", "measure": "error"}]}}
                try:
                    DrillSpec.model_validate(drill)
                    valid = True
                except ValueError:
                    valid = False
                assert valid == ok, f"fault {fault} on target {target}: documented {doc.targets}, validation says {valid}"


@pytest.mark.skipif(importlib.util.find_spec("mkdocs") is None and not in_ci(), reason="the docs extra is not installed")
def test_the_site_builds_strictly(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "site" / "reference" / "faults" / "index.html").is_file()
    nav = yaml.safe_load((ROOT / "mkdocs.yml").read_text())["nav"]
    assert "extending.md" in str(nav) and "reference/drill.md" in str(nav)


# ---- finding 7 ----------------------------------------------------------------------------------
@pytest.mark.parametrize("args", [["--help"], ["run", "--help"], ["images", "build", "--help"], ["init", "--help"]])
def test_help_shows_no_type_after_a_flag(args: list[str]) -> None:
    out = RUNNER.invoke(app, args, terminal_width=100)
    assert out.exit_code == 0
    assert "<bool>" not in out.stdout
    assert args[0] not in ("run", "init") or "<str>" in out.stdout  # options that take a value keep their type


def test_a_limit_is_one_interval() -> None:
    timeout = {p.name: p for p in params_of(NotifySpec)}["timeout"]
    assert timeout.limits == "0 < x ≤ 60"  # was "> 0, ≤ 60, ≥ 0": a Duration's own ≥ 0 beside the field's bounds
    notify = {p.name: p for p in next(d for d in action_docs() if d.name == "notify").params}
    assert notify["timeout"].limits == "0 < x ≤ 60"
    out = RUNNER.invoke(app, ["actions", "notify"])
    assert "0 < x ≤ 60" in out.stdout and "≥ 0" not in out.stdout
    assert ParamDoc("x", "int", True, None, "").limits == ""


def test_init_calls_injected_5xx_performance_as_the_catalogue_does(tmp_path: Path) -> None:
    done = scaffold(tmp_path, "team/fraud-api:1.4")
    drill = yaml.safe_load(done.written[0].read_text())
    assert drill["fault"]["kind"] == "error" and drill["root_cause"] == "performance"
    catalogue = load_drill("canary-fail").spec  # 5xx on a slice
    assert str(catalogue.root_cause) == drill["root_cause"]


def test_the_gameday_plan_and_answers_pages_cover_every_field_and_what_each_drill_asks() -> None:
    from harness.programme.gameday_answers import needs_of
    from harness.programme.gameday_plan import GameDayAnswers, GameDayPlan

    generated = pages(CLI)
    for root, page in ((GameDayPlan, "reference/gameday-plan.md"), (GameDayAnswers, "reference/gameday-answers.md")):
        for section in sections(root):
            for p in params_of(section.model):
                assert p.description, f"{section.model.__name__}.{p.name} has no Field description"
                assert re.search(rf"^\| (\[)?`{re.escape(p.name)}`", generated[page], re.M), f"{page}: {p.name}"
    assert "| `from` |" in generated["reference/gameday-plan.md"]  # as a plan writes it, not the model's from_
    needs = needs_of(load_drill("canary-fail"))
    assert f"| `canary-fail` | `canary-rollback` | {needs.describe()} | `[rollback, done]` |" in \
        generated["reference/gameday-answers.md"]
