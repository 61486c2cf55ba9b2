"""The team's own rollback path as runbook steps: ``run`` (its commands), ``http`` (its APIs), ``compose`` (its services)."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest

from harness.engine.context import RunContext
from harness.engine.results import StepStatus
from harness.errors import SpecError
from harness.ports import Endpoint, ServiceFailed
from harness.runbook import executor as runbook
from harness.runbook.actions import jsonpath
from harness.spec import catalogue
from harness.spec.models import RunbookSpec
from harness.traffic.generator import LoadGenerator
from tests.fakes import FakeTarget, QuietHandler

SECRET = "s3cr3t-token-4711"


class ProjectTarget(FakeTarget):
    """A fake target that is a team project (``ports.TeamProject``): a directory, an environment, services."""

    def __init__(self, directory: Path) -> None:
        super().__init__()
        self.directory = directory
        self.ops: list[tuple[str, str]] = []
        self.endpoints: dict[tuple[str, int], Endpoint] = {}

    @property
    def project_dir(self) -> Path:
        return self.directory

    def command_env(self) -> dict[str, str]:
        return {"COMPOSE_PROJECT_NAME": "drill-test"}

    def service_op(self, op: str, service: str, timeout: float,
                   on_start: Callable[[Callable[[], None]], Callable[[], None]] | None = None) -> str:
        if service != "registry":
            raise ServiceFailed(f"no service {service!r} in the project")
        self.ops.append((op, service))
        return f"compose {op} {service}"

    def published(self, service: str, port: int) -> Endpoint:
        if (service, port) not in self.endpoints:
            raise ServiceFailed(f"{service}:{port} is not published")
        return self.endpoints[(service, port)]


def _ctx(target: FakeTarget, allow_shell: bool = True, **variables: str) -> RunContext:
    load = LoadGenerator(Endpoint("127.0.0.1", 9), target.protocol, rate=1)  # never started
    return RunContext(target=target, load=load, emit=lambda e: None, variables=dict(variables), allow_shell=allow_shell)


def _steps(*steps: dict[str, object]) -> RunbookSpec:
    return RunbookSpec.model_validate({"name": "t", "steps": [{"name": f"s{i}", **s} for i, s in enumerate(steps)]})


def _script(directory: Path, name: str, body: str) -> Path:
    path = directory / "ops" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


# ---- the JSON path --------------------------------------------------------------------------------
@pytest.mark.parametrize(("path", "steps"), [
    ("$.model_version.version", ("model_version", "version")),
    ("aliases[0].alias", ("aliases", 0, "alias")),
    ("a.0.b", ("a", 0, "b")),
    ('$["odd key"][-1]', ("odd key", -1)),
])
def test_json_paths_parse(path: str, steps: tuple[str | int, ...]) -> None:
    assert jsonpath.parse(path) == steps


@pytest.mark.parametrize("path", ["$..a", "a[", "a.[0]", "$", "a b", "a[x]"])
def test_a_malformed_json_path_is_refused(path: str) -> None:
    with pytest.raises(ValueError, match="malformed JSON path"):
        jsonpath.parse(path)


def test_find_tells_absent_from_null() -> None:
    data = {"a": [{"b": None}]}
    assert jsonpath.find(data, jsonpath.parse("a[0].b")) is None
    assert jsonpath.find(data, jsonpath.parse("a[1].b")) is jsonpath.MISSING


# ---- bad input at load ----------------------------------------------------------------------------
def _runbook_file(root: Path, steps: list[dict[str, object]]) -> Path:
    path = root / "runbooks" / "team.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"name": "team", "steps": steps}))
    return path


def test_a_run_command_that_does_not_exist_is_bad_input_at_load(tmp_path: Path) -> None:
    path = _runbook_file(tmp_path, [{"name": "back", "action": "run", "params": {"command": ["./ops/rollbak.sh"]}},
                                    {"name": "tool", "action": "run", "params": {"command": ["no-such-tool-4711"]}}])
    with pytest.raises(SpecError) as caught:
        catalogue.load_runbook(str(path))
    fields = {i.field: i.message for i in caught.value.issues}
    assert "no executable ./ops/rollbak.sh" in fields["steps.0.params.command"]
    assert "no command 'no-such-tool-4711' on PATH" in fields["steps.1.params.command"]


def test_a_run_command_of_the_project_loads(tmp_path: Path) -> None:
    _script(tmp_path, "rollback.sh", "exit 0\n")
    path = _runbook_file(tmp_path, [{"name": "back", "action": "run", "params": {"command": ["./ops/rollback.sh"]}}])
    catalogue.load_runbook(str(path))


def test_a_malformed_json_path_in_an_http_check_is_bad_input_at_load(tmp_path: Path) -> None:
    path = _runbook_file(tmp_path, [{"name": "alias", "action": "http", "params": {
        "url": "http://127.0.0.1:1/x", "checks": [{"path": "$.model_version..version", "equals": "1"}]}}])
    with pytest.raises(SpecError) as caught:
        catalogue.load_runbook(str(path))
    assert caught.value.issues[0].field == "steps.0.params.checks.0.path"
    assert "malformed JSON path" in caught.value.issues[0].message


# ---- run ------------------------------------------------------------------------------------------
def test_run_records_exit_status_and_last_lines_in_the_project_directory(tmp_path: Path) -> None:
    _script(tmp_path, "rollback.sh", 'echo "moving $1 in $(pwd) for $COMPOSE_PROJECT_NAME token=$TOKEN"\n'
                                     'echo second line\nexit 0\n')
    target = ProjectTarget(tmp_path)
    spec = _steps({"action": "run", "params": {"command": ["./ops/rollback.sh", "${stable_version}"],
                                               "env": {"TOKEN": "${token}"}}})
    outcome = runbook.execute(spec, _ctx(target, stable_version="v2", token="t1"), lambda e: None)
    step = outcome.steps[0]
    assert step.status is StepStatus.OK, step.error
    assert f"moving v2 in {tmp_path} for drill-test token=t1 | second line" in step.detail
    assert "exit 0" in step.detail


def test_run_fails_on_an_unexpected_exit_status_with_its_last_lines(tmp_path: Path) -> None:
    _script(tmp_path, "rollback.sh", "echo nginx: upstream not found >&2\nexit 3\n")
    spec = _steps({"action": "run", "params": {"command": ["./ops/rollback.sh"]}})
    step = runbook.execute(spec, _ctx(ProjectTarget(tmp_path)), lambda e: None).steps[0]
    assert step.status is StepStatus.FAILED
    assert step.error is not None and "exit 3" in step.error and "nginx: upstream not found" in step.error


def test_run_needs_allow_shell(tmp_path: Path) -> None:
    _script(tmp_path, "rollback.sh", "exit 0\n")
    spec = _steps({"action": "run", "params": {"command": ["./ops/rollback.sh"]}})
    step = runbook.execute(spec, _ctx(ProjectTarget(tmp_path), allow_shell=False), lambda e: None).steps[0]
    assert step.status is StepStatus.FAILED and "allow_shell" in (step.error or "")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] != "Z"


def test_run_kills_the_whole_process_group_at_its_timeout(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    # The script starts a child that would outlive it; the timeout must take both.
    _script(tmp_path, "slow.sh", f"sleep 120 &\necho $! >> {pids}\necho $$ >> {pids}\nwait\n")
    spec = _steps({"action": "run", "params": {"command": ["./ops/slow.sh"], "timeout": "1s"}, "retry": {"attempts": 1}})
    started = time.monotonic()
    step = runbook.execute(spec, _ctx(ProjectTarget(tmp_path)), lambda e: None).steps[0]
    assert time.monotonic() - started < 10
    assert step.status is StepStatus.FAILED and "process group was killed" in (step.error or "")
    recorded = [int(p) for p in pids.read_text().split()]
    assert len(recorded) == 2
    deadline = time.monotonic() + 5
    while any(_alive(p) for p in recorded) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_alive(p) for p in recorded)


# ---- http -----------------------------------------------------------------------------------------
@pytest.fixture
def api() -> Iterator[tuple[Endpoint, list[dict[str, str]]]]:
    """A small control-plane API: MLflow's alias lookup, and an endpoint that echoes the auth header on a 500."""
    seen: list[dict[str, str]] = []

    class Handler(QuietHandler):
        def _send(self, status: int, body: object) -> None:
            raw = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def do_GET(self) -> None:
            seen.append(dict(self.headers))
            if self.path.startswith("/api/2.0/mlflow/registered-models/alias"):
                self._send(200, {"model_version": {"name": "tumor", "version": "2", "aliases": ["champion"]}})
            else:
                self._send(500, {"error": f"bad token {self.headers.get('Authorization')}"})

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
            seen.append({"body": json.dumps(body)})
            self._send(200, {"ok": True})

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield Endpoint("127.0.0.1", server.server_address[1]), seen
    server.shutdown()
    server.server_close()


def test_http_checks_a_json_field_of_the_answer(api: tuple[Endpoint, list[dict[str, str]]], tmp_path: Path) -> None:
    where, _ = api
    target = ProjectTarget(tmp_path)
    target.endpoints[("registry", 5000)] = where
    alias = {"action": "http", "params": {"service": "registry", "port": 5000,
                                          "path": "/api/2.0/mlflow/registered-models/alias?name=tumor&alias=champion",
                                          "checks": [{"path": "$.model_version.version", "equals": "${stable_version}"}]}}
    good = runbook.execute(_steps(alias), _ctx(target, stable_version="2"), lambda e: None).steps[0]
    assert good.status is StepStatus.OK, good.error
    wrong = runbook.execute(_steps(alias), _ctx(target, stable_version="1"), lambda e: None).steps[0]
    assert wrong.status is StepStatus.FAILED
    assert '$.model_version.version is "2", expected "1"' in (wrong.error or "")


def test_http_never_prints_a_secret_header(api: tuple[Endpoint, list[dict[str, str]]],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    where, seen = api
    monkeypatch.setenv("REGISTRY_TOKEN", SECRET)
    step = {"action": "http", "params": {"url": f"http://{where}/other", "headers": {"Authorization": "Bearer ${REGISTRY_TOKEN}"}}}
    outcome = runbook.execute(_steps(step), _ctx(FakeTarget()), lambda e: None).steps[0]
    assert seen[-1]["Authorization"] == f"Bearer {SECRET}"  # sent
    assert outcome.status is StepStatus.FAILED
    assert "answered 500" in (outcome.error or "") and "***" in (outcome.error or "")
    assert SECRET not in (outcome.error or "") + outcome.detail  # never printed


def test_http_sends_a_json_body_with_variables(api: tuple[Endpoint, list[dict[str, str]]]) -> None:
    where, seen = api
    step = {"action": "http", "params": {"method": "POST", "url": f"http://{where}/api/2.0/mlflow/registered-models/alias",
                                         "json": {"name": "tumor", "alias": "champion", "version": "${stable_version}"},
                                         "checks": [{"path": "ok", "equals": True}]}}
    outcome = runbook.execute(_steps(step), _ctx(FakeTarget(), stable_version="2"), lambda e: None).steps[0]
    assert outcome.status is StepStatus.OK, outcome.error
    assert json.loads(seen[-1]["body"]) == {"name": "tumor", "alias": "champion", "version": "2"}


# ---- compose --------------------------------------------------------------------------------------
def test_compose_operates_a_named_service_of_the_team_project(tmp_path: Path) -> None:
    target = ProjectTarget(tmp_path)
    spec = _steps({"action": "compose", "params": {"op": "stop", "service": "registry"}},
                  {"action": "compose", "params": {"op": "start", "service": "nope"}})
    outcome = runbook.execute(spec, _ctx(target), lambda e: None)
    assert target.ops == [("stop", "registry")]
    assert outcome.steps[1].status is StepStatus.FAILED and "no service 'nope'" in (outcome.steps[1].error or "")


def test_compose_needs_a_compose_target() -> None:
    spec = _steps({"action": "compose", "params": {"op": "restart", "service": "registry"}})
    step = runbook.execute(spec, _ctx(FakeTarget()), lambda e: None).steps[0]
    assert step.status is StepStatus.FAILED and "compose target" in (step.error or "")


def test_a_run_step_needs_allow_shell_in_the_drill_at_load(tmp_path: Path) -> None:
    """Like shell: a drill that runs commands says so, and then runs only its own project's runbooks."""
    _script(tmp_path, "rollback.sh", "exit 0\n")
    path = _runbook_file(tmp_path, [{"name": "back", "action": "run", "params": {"command": ["./ops/rollback.sh"]}}])
    runbook = RunbookSpec.model_validate(json.loads(path.read_text()))
    issues = catalogue.check_runbook(path, runbook, allow_shell=False)
    assert [(i.field, i.message) for i in issues] == [("steps.0.action", "run steps need allow_shell: true in the drill")]
    assert catalogue.check_runbook(path, runbook, allow_shell=True) == []
