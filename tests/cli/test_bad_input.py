"""Bad input: exit 2 with file and field named; nothing started, nothing written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner, Result

from harness.cli.main import app
from harness.exit_codes import ExitStatus

ROOT = Path(__file__).resolve().parents[2]
BASE = yaml.safe_load((ROOT / "harness" / "data" / "drills" / "canary-fail.yaml").read_text())
RUNNER = CliRunner()
# Were a bad drill accepted, it could not start a container: Docker is pointed nowhere (exit 3, not 2).
NO_DOCKER = {"DOCKER_HOST": "unix:///nonexistent/docker.sock"}


def _drill(tmp_path: Path, **changes: Any) -> Path:
    data = json.loads(json.dumps(BASE))
    for dotted, value in changes.items():
        *parents, last = dotted.split("__")
        node = data
        for p in parents:
            node = node[int(p)] if isinstance(node, list) else node[p]
        node[last] = value
    path = tmp_path / "drills" / "bad.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    return path


def _run(tmp_path: Path, drill: Path) -> Result:
    store, reports = tmp_path / "store.db", tmp_path / "reports"
    result = RUNNER.invoke(app, ["run", str(drill), "--store", str(store), "--report-dir", str(reports)], env=NO_DOCKER)
    assert not store.exists() and not reports.exists(), "bad input must write nothing"
    return result


def _bad(result: Result, *needles: str) -> None:
    assert result.exit_code == ExitStatus.BAD_INPUT, result.output
    for needle in needles:
        assert needle in result.output, result.output


@pytest.mark.parametrize(("field", "value"), [
    ("target", float("inf")), ("target", float("nan")), ("target", 0), ("detection__interval", 0),
    ("detection__interval", float("inf")), ("detection__metrics__0__failure_above", float("inf")),
    ("detection__metrics__0__failure_above", float("nan")), ("traffic__timeout", 0),
])
def test_non_finite_and_zero_numbers_are_refused(tmp_path: Path, field: str, value: float) -> None:
    _bad(_run(tmp_path, _drill(tmp_path, **{field: value})), "bad.yaml", field.replace("__", "."))


@pytest.mark.parametrize(("field", "value"), [
    ("name", "a/b"), ("name", "x" * 5000), ("name", "../escape"), ("model", "../../somewhere"), ("model", "a b"),
])
def test_names_that_are_not_simple_identifiers(tmp_path: Path, field: str, value: str) -> None:
    _bad(_run(tmp_path, _drill(tmp_path, **{field: value})), "bad.yaml", field)


def test_non_utf8_bytes(tmp_path: Path) -> None:
    path = _drill(tmp_path)
    path.write_bytes(path.read_bytes().replace(b"canary-fail", b"canary-\xff\xfe", 1))
    _bad(_run(tmp_path, path), "bad.yaml", "UTF-8")


@pytest.mark.parametrize("text", [
    "name: x\nparams: " + "[" * 3000 + "]" * 3000 + "\n",
    "name: x\nparams: " + "{a: " * 3000 + "1" + "}" * 3000 + "\n",
    "name: x\nparams:\n" + "".join("  " * i + "- \n" for i in range(1, 200)),
])
def test_deep_nesting_is_refused_not_a_recursion_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text(text)
    _bad(RUNNER.invoke(app, ["validate", str(path)]), "deep.yaml", "nested")


def test_duplicate_keys_are_refused(tmp_path: Path) -> None:
    path = _drill(tmp_path)
    path.write_text(path.read_text() + "target: 1s\n")
    _bad(_run(tmp_path, path), "bad.yaml", "duplicate key 'target'")


@pytest.mark.parametrize("url", [
    "postgresql://h:abc/db", "postgresql://h:99999/db", "sqlite://", "mysql://h/db", "postgresql+psycopg://[::1/db",
    "postgresql://h", "://nothing",
])
def test_malformed_store_urls(tmp_path: Path, url: str) -> None:
    result = RUNNER.invoke(app, ["metrics", "--store", url])
    _bad(result, "--store")


def test_store_url_passwords_are_masked_in_messages() -> None:
    result = RUNNER.invoke(app, ["metrics", "--store", "postgresql://u:hunter2@h:abc/db?password=s3cret&sslmode=x"])
    _bad(result, "--store")
    assert "hunter2" not in result.output and "s3cret" not in result.output


@pytest.mark.parametrize("stamp", ["0001-01-01T00:00:00Z", "9999-12-31T23:00:00Z", "1900-01-01T00:00:00Z"])
def test_imports_with_out_of_range_dates(tmp_path: Path, stamp: str) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text(json.dumps({"type": "deployment", "model": "m", "version": "1", "deployed_at": stamp}) + "\n")
    store = tmp_path / "store.db"
    result = RUNNER.invoke(app, ["import", str(events), "--store", str(store)])
    _bad(result, "events.jsonl:1", "deployed_at", "out of range")
    assert not store.exists()


def test_deeply_nested_json_import_line(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text("[" * 100_000 + "]" * 100_000 + "\n")
    store = tmp_path / "store.db"
    _bad(RUNNER.invoke(app, ["import", str(events), "--store", str(store)]), "events.jsonl:1")
    assert not store.exists()


def test_out_of_range_dates_on_flags() -> None:
    result = RUNNER.invoke(app, ["metrics", "--since", "0001-01-01", "--store", "/nonexistent/x.db"])
    assert result.exit_code == ExitStatus.BAD_INPUT and "--since" in result.output


def test_did_you_mean_for_drill_and_runbook_names(tmp_path: Path) -> None:
    _bad(RUNNER.invoke(app, ["run", "canary-fial"], env=NO_DOCKER), "did you mean canary-fail")
    _bad(RUNNER.invoke(app, ["runbook", "show", "canary-rolback"]), "did you mean canary-rollback")
    _bad(_run(tmp_path, _drill(tmp_path, runbook="canary-rolback")), "bad.yaml", "did you mean canary-rollback")


def test_a_shadow_stage_where_no_tee_can_run_is_refused_before_anything_starts(tmp_path: Path) -> None:
    shadow = _drill(tmp_path, strategy={"kind": "shadow"})
    store, reports = tmp_path / "store.db", tmp_path / "reports"
    result = RUNNER.invoke(app, ["run", str(shadow), "--backend", "swarm", "--store", str(store), "--report-dir",
                                 str(reports)], env=NO_DOCKER)
    assert result.exit_code == ExitStatus.BAD_INPUT, result.output
    assert "strategy.kind" in result.output and "cannot run on backend 'swarm'" in result.output, result.output
    assert not store.exists() and not reports.exists()
    progressive = _drill(tmp_path, strategy={"kind": "progressive", "stages": [
        {"kind": "shadow", "max_wait": "10s"}, {"kind": "canary", "weight": 10, "max_wait": "10s"}]}, backend="swarm")
    out = _run(tmp_path, progressive)
    assert out.exit_code == ExitStatus.BAD_INPUT and "strategy.kind" in out.output and "'swarm'" in out.output, out.output
    mlflow = _drill(tmp_path, strategy={"kind": "shadow"}, target={"kind": "mlflow"})
    out = _run(tmp_path, mlflow)
    assert out.exit_code == ExitStatus.BAD_INPUT and "target kinds builtin, image take one, not 'mlflow'" in out.output, \
        out.output
