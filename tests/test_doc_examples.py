"""Every example in README.md and docs/**/*.md is checked, so the documentation cannot rot.

- ```yaml: a GameDay plan (``participants``) or its answers (``retrospective``) validates;
  a runbook (has ``steps``) validates, and each step's params validate against its action; a whole
  drill (has ``root_cause``) validates in a project with the files it names (a request file, a build context);
  a fragment of a drill (only drill fields at the top) validates merged into a minimal drill (a compose target's,
  the example team stack's, when it strikes named services with ``service-*`` adversity). Kubernetes
  manifests are tests/test_kubernetes_doc.py's.
- ```json: a request file's lines (the image target's JSONL) load.
- ```sh / ```console: every ``drill ...`` command line parses with the real typer app (command, options,
  arguments); a script or benchmark it runs exists in the repository.
- ```python: compiles.
"""

from __future__ import annotations

import re
import shlex
import shutil
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.main import get_command

from harness.authoring.scaffold import scaffold
from harness.cli.main import app
from harness.programme.gameday_plan import GameDayAnswers, GameDayPlan
from harness.runbook import actions
from harness.spec.models import DrillSpec, RunbookSpec, SpecLoader, parse_model
from harness.targets.image.spec import load_requests
from tests.conftest import ROOT

FENCE = re.compile(r"^(?P<indent> *)```(?P<lang>[\w-]*)[^\n]*\n(?P<body>.*?)^(?P=indent)```", re.S | re.M)
DOCS = sorted([ROOT / "README.md", *(p for p in (ROOT / "docs").rglob("*.md") if "hooks" not in p.parts)])
SAFE_COMMANDS = {"pytest", "pip", "printf", "mkdocs", ".", "source", "cd", "docker", "ruff", "mypy", "git", "export"}
IMAGE_TARGET = {"kind": "image", "request": {"source": "../samples.jsonl"},
                "versions": {"a": {"image": "team/x:1"}, "b": {"image": "team/x:2"}}, "stable": "a", "candidate": "b"}
BASE_DRILL: dict[str, Any] = {"name": "fragment", "root_cause": "performance", "fault": {"kind": "none"},
                              "detection": {"compare": [{"name": "errors", "measure": "error"}]}, "runbook": "canary-rollback"}


TEAM_DRILL = ROOT / "examples" / "team-stack" / "drills" / "team-registry-down.yaml"


@dataclass(frozen=True)
class Example:
    path: Path
    line: int
    lang: str
    body: str

    def __str__(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def examples() -> list[Example]:
    found = []
    for path in DOCS:
        text = path.read_text(encoding="utf-8")
        for m in FENCE.finditer(text):
            body = textwrap.dedent("\n".join(line[len(m["indent"]):] for line in m["body"].splitlines()))
            found.append(Example(path, text[:m.start()].count("\n") + 1, m["lang"], body))
    return found


ALL = examples()


def of(*langs: str) -> list[Any]:
    return [pytest.param(e, id=str(e)) for e in ALL if e.lang in langs]


def test_the_examples_are_found_and_every_block_says_its_language() -> None:
    assert len(of("yaml")) >= 10 and len(of("sh", "console")) >= 10
    unlabelled = [str(e) for e in ALL if not e.lang]
    assert not unlabelled, f"fenced blocks without a language: {unlabelled}"


def test_the_readme_is_short() -> None:
    assert len((ROOT / "README.md").read_text(encoding="utf-8").splitlines()) <= 210


# ---- YAML ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A team project with the files the examples name: samples.jsonl, requests.jsonl, a Dockerfile, a scaffolded
    runbook."""
    root = tmp_path_factory.mktemp("project")
    (root / "samples.jsonl").write_text('{"body": {"x": 1}, "expect": 1}\n')
    (root / "requests.jsonl").write_text('{"body": {"inputs": []}, "expect": 1}\n')  # docs/open-inference.md
    (root / "Dockerfile").write_text("ARG BASE_IMAGE=python:3.11-slim\nFROM ${BASE_IMAGE}\n")
    scaffold(root, "team/fraud-api:1.4", requests=root / "samples.jsonl")  # runbooks/fraud-api-rollback.yaml
    team = ROOT / "examples" / "team-stack"  # docs/compose.md's drill names the team project's files and scripts
    for name in ("compose.yaml", "requests.jsonl"):
        shutil.copy(team / name, root / name)
    shutil.copytree(team / "ops", root / "ops")
    return root


def _runbook_names(project: Path) -> set[str]:
    names = {p.stem for p in (ROOT / "harness" / "data" / "runbooks").glob("*.yaml")}
    names |= {p.stem for p in (project / "runbooks").glob("*.yaml")}
    for e in of("yaml"):
        for data in yaml.safe_load_all(e.values[0].body):
            if isinstance(data, dict) and "steps" in data:
                names.add(data["name"])
    return names


def _check_steps(steps: list[dict[str, Any]], where: str) -> None:
    for step in steps:
        action = actions.get(step["action"])
        assert action is not None, f"{where}: step {step['name']}: no action {step['action']!r}"
        action.params.model_validate(step.get("params", {}))  # placeholders such as ${stable_version} are strings


def _merged(base: dict[str, Any], fragment: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in fragment.items():
        out[key] = _merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


@pytest.mark.parametrize("example", of("yaml"))
def test_yaml_example_validates(example: Example, project: Path) -> None:
    if re.search(r"^apiVersion:", example.body, re.M):
        pytest.skip("a Kubernetes manifest: tests/test_kubernetes_doc.py checks it")
    data = yaml.load(example.body, Loader=SpecLoader)  # noqa: S506  (a SafeLoader refusing duplicate keys)
    assert isinstance(data, dict), f"{example}: not a mapping"
    drills = project / "drills"
    drills.mkdir(exist_ok=True)
    if "steps" in data:
        path = project / "runbooks" / f"example-{example.line}.yaml"
        path.write_text(example.body)
        runbook = parse_model(path, RunbookSpec)
        _check_steps([s.model_dump(mode="json") for s in runbook.steps], str(example))
        return
    if "participants" in data or "retrospective" in data:  # a GameDay plan or its answers (docs/programme.md)
        (GameDayPlan if "participants" in data else GameDayAnswers).model_validate(data)
        return
    unknown = set(data) - set(DrillSpec.model_fields)
    assert not unknown, f"{example}: neither a runbook nor a drill (or a part of one): {sorted(unknown)}"
    text = example.body  # a whole drill is validated as written (its lines in any error)
    if "root_cause" not in data:  # a fragment: validated inside a minimal drill
        base = BASE_DRILL
        if isinstance(data.get("fault"), dict) and data["fault"].get("inject"):
            base = {**BASE_DRILL, "target": IMAGE_TARGET}
        if any(str(a.get("kind", "")).startswith("service-") for a in data.get("adversity") or ()):
            team = yaml.safe_load(TEAM_DRILL.read_text())  # its ../compose.yaml is the project's own copy
            base = {**BASE_DRILL, "target": team["target"], "allow_shell": True}
        text = yaml.safe_dump(_merged(base, data), sort_keys=False)
    path = drills / f"example-{example.line}.yaml"
    path.write_text(text)
    drill = parse_model(path, DrillSpec)
    assert drill.runbook in _runbook_names(project), f"{example}: names runbook {drill.runbook!r}, which no example or catalogue has"
    _check_steps([s.model_dump(mode="json") for s in drill.preflight], str(example))


@pytest.mark.parametrize("example", of("json"))
def test_json_example_is_a_request_file(example: Example, tmp_path: Path) -> None:
    path = tmp_path / "requests.jsonl"
    path.write_text(example.body)
    assert load_requests(path)


@pytest.mark.parametrize("example", of("python"))
def test_python_example_compiles(example: Example) -> None:
    compile(example.body, str(example), "exec")


# ---- shell --------------------------------------------------------------------------------------
def command_lines(example: Example) -> list[str]:
    lines, pending = [], ""
    for raw in example.body.splitlines():
        if example.lang == "console":
            if not raw.startswith("$ "):
                continue
            raw = raw[2:]
        pending += raw.rstrip("\\").rstrip() + " " if raw.rstrip().endswith("\\") else raw
        if not raw.rstrip().endswith("\\"):
            if pending.strip() and not pending.lstrip().startswith("#"):
                lines.append(pending)
            pending = ""
    return lines


def segments(line: str) -> list[list[str]]:
    """The simple commands of a line (split at |, &&, ;, >), each without its leading VAR=value words."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = "#"
    found: list[list[str]] = [[]]
    skip_next = False
    for token in lexer:
        if set(token) <= set("|&;<>"):
            skip_next = token in (">", ">>", "<")
            found.append([])
            continue
        if skip_next:  # a redirection's target
            skip_next = False
            continue
        if not found[-1] and re.match(r"^[A-Z_][A-Z0-9_]*=", token):
            continue
        found[-1].append(token)
    return [s for s in found if s]


def parse_drill(args: list[str]) -> None:
    """Resolve the command path and parse its options and arguments as `drill` would; raise on a bad one."""
    command: Any = get_command(app)
    ctx: Any = command.make_context("drill", [], resilient_parsing=True)
    words = list(args)
    while hasattr(command, "commands") and words and not words[0].startswith("-"):
        sub = command.get_command(ctx, words[0])
        assert sub is not None, f"no command {words[0]!r}"
        command, name = sub, words.pop(0)
        if hasattr(command, "commands"):
            ctx = command.make_context(name, [], parent=ctx, resilient_parsing=True)
        else:
            break
    try:
        command.make_context(" ".join(args[:1]), words, parent=ctx).close()
    except Exception as exc:  # typer's own click raises its usage errors; --help and --version exit
        if type(exc).__name__ != "Exit":
            raise AssertionError(f"drill {' '.join(args)}: {type(exc).__name__}: {exc}") from None


@pytest.mark.parametrize("example", of("sh", "console"))
def test_shell_example_names_real_commands(example: Example) -> None:
    for line in command_lines(example):
        for words in segments(line):
            head = words[0]
            if head == "drill":
                parse_drill(words[1:])
            elif head in ("python", "python3") and words[1:2] and words[1].endswith(".py"):
                assert (ROOT / words[1]).is_file(), f"{example}: no script {words[1]}"
            elif "/" in head:
                assert (ROOT / head).exists() or head.startswith((".venv/", "/")), f"{example}: no {head} in the repository"
            elif head in ("python", "python3"):
                assert words[1:2] == ["-m"], f"{example}: {line}"
            else:
                assert head in SAFE_COMMANDS, f"{example}: unknown command {head!r} in {line!r}"


def test_the_shell_check_catches_a_bad_flag_and_a_bad_command() -> None:
    parse_drill(["run", "canary-fail", "--json"])
    with pytest.raises(AssertionError, match=r"(?i)no such option"):
        parse_drill(["run", "canary-fail", "--jsn"])
    with pytest.raises(AssertionError, match="no command"):
        parse_drill(["rnu", "canary-fail"])
    assert segments("DRILL_PATH=x drill run --all > out.txt && drill export | head") == [
        ["drill", "run", "--all"], ["drill", "export"], ["head"]]


def test_the_yaml_check_catches_a_duplicate_key(project: Path) -> None:
    bad = "name: r\nsteps:\n  - name: s\n    action: notify\n    params: {message: a}\n    params: {message: b}\n"
    path = project / "runbooks" / "bad.yaml"
    path.write_text(bad)
    with pytest.raises(Exception, match="duplicate key 'params'"):
        parse_model(path, RunbookSpec)


def test_no_escaped_pipe_inside_a_code_span() -> None:
    # In a Markdown table a pipe must be escaped, but MkDocs (Python-Markdown) then shows the backslash inside
    # a code span: write the alternatives as separate code spans instead.
    for path in DOCS:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            assert not re.search(r"`[^`]*\\\|[^`]*`", line), f"{path.relative_to(ROOT)}:{number}: an escaped pipe inside a code span"
