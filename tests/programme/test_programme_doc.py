"""docs/programme.md stays true: every YAML example validates as what it is (a drill, a runbook, a GameDay plan
or its answers), and every `drill ...` command shown exists with the options it is shown with."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.cli.main import app
from harness.programme.gameday_plan import check_retrospective, load_answers, load_plan
from harness.spec import catalogue
from harness.spec.models import RunbookSpec, parse_model
from tests.conftest import ROOT

DOC = ROOT / "docs" / "programme.md"
GROUPS = ("record", "images", "runbook")


def blocks(kind: str) -> list[str]:
    return re.findall(rf"^```{kind}\n(.*?)^```", DOC.read_text(encoding="utf-8"), flags=re.S | re.M)


def test_every_yaml_example_validates(tmp_path: Path) -> None:
    found = set()
    plan = None
    for i, text in enumerate(blocks("yaml")):
        path = tmp_path / f"block{i}.yaml"
        path.write_text(text)
        if "participants:" in text:
            plan = load_plan(path)
            found.add("plan")
        elif "retrospective:" in text:
            assert plan is not None, "the answers example follows its plan"
            answers = load_answers(path, plan)
            check_retrospective(answers.retrospective, plan, str(path))
            order = [*plan.drills, *(["surprise"] if plan.surprise else [])]
            assert len(answers.drills) == len(order), "one list of answers per drill run"
            found.add("answers")
        elif "steps:" in text:
            runbook = parse_model(path, RunbookSpec)
            assert catalogue.check_runbook(path, runbook) == []
            found.add("runbook")
        else:
            drill = catalogue.load_drill(str(path))
            assert drill.spec.expected == "fail" and drill.spec.expect is None
            found.add("drill")
    assert found == {"plan", "answers", "runbook", "drill"}


def commands() -> list[list[str]]:
    out = []
    for text in blocks("console"):
        for line in text.splitlines():
            if line.startswith("$ drill "):
                out.append(shlex.split(line[2:].split(" > ")[0].split(" | ")[0].split("   #")[0])[1:])
    return out


@pytest.mark.parametrize("argv", commands(), ids=lambda argv: " ".join(argv[:2]))
def test_every_command_shown_exists_with_its_options(argv: list[str]) -> None:
    depth = 2 if argv[0] in GROUPS else 1
    result = CliRunner().invoke(app, [*argv[:depth], "--help"])
    assert result.exit_code == 0, result.output
    for option in (a for a in argv[depth:] if a.startswith("--")):
        assert option in result.output, f"{' '.join(argv[:depth])} has no {option}"
