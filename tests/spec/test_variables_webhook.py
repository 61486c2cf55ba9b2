"""--var KEY=VALUE, the notify action's url:, and the drill's notify webhook, against a real local HTTP receiver."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.cli.main import app
from harness.engine.events import Decided, RunFinished, RunStarted
from harness.engine.results import Evidence
from harness.errors import SpecError, StepFailed
from harness.listeners import webhook
from harness.runbook.actions.builtin import NotifyParams
from harness.spec import catalogue, variables
from tests.conftest import CATALOGUE
from tests.report.test_reports import make_result


@dataclass
class Receiver:
    """A chat incoming-webhook stand-in: records JSON bodies, answers ``status``, can hold answers back."""

    url: str
    bodies: list[dict[str, object]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    status: int = 200
    release: threading.Event = field(default_factory=threading.Event)
    got: threading.Event = field(default_factory=threading.Event)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver("")
    state.release.set()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            state.bodies.append(json.loads(self.rfile.read(length)))
            state.paths.append(self.path)
            state.got.set()
            state.release.wait(10)
            self.send_response(state.status)
            self.end_headers()
            self.wfile.write(b"ok" if state.status < 300 else b"no such hook")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/T0/secret"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    state.release.set()
    server.shutdown()
    server.server_close()


# ---- variables -----------------------------------------------------------------------------------

def test_parse_vars() -> None:
    assert variables.parse_vars(["webhook=http://x/y?a=b=c", "team=ml", "team=ml"]) == {
        "webhook": "http://x/y?a=b=c", "team": "ml"}


def test_bad_vars_all_reported_at_once() -> None:
    with pytest.raises(SpecError) as caught:
        variables.parse_vars(["novalue", "1abc=x", "stable_version=v9", "a-b=1", "k=1", "k=2"])
    messages = [i.message for i in caught.value.issues]
    assert len(messages) == 5
    assert "expected KEY=VALUE" in messages[0] and "not a variable name" in messages[1]
    assert "built-in" in messages[2] and "not a variable name" in messages[3] and "twice" in messages[4]


def _project(tmp_path: Path, step_params: str, notify: str = "") -> Path:
    (tmp_path / "drills").mkdir()
    (tmp_path / "runbooks").mkdir()
    (tmp_path / "runbooks" / "paging.yaml").write_text(
        "name: paging\nsteps:\n  - name: page\n    action: notify\n"
        f"    params: {step_params}\n")
    drill = (CATALOGUE / "drills" / "canary-fail.yaml").read_text().replace("runbook: canary-rollback",
                                                                           "runbook: paging")
    (tmp_path / "drills" / "paging-drill.yaml").write_text(drill + notify)
    return tmp_path / "drills" / "paging-drill.yaml"


def test_a_runbook_variable_nobody_sets_is_bad_input_naming_file_field_line(tmp_path: Path) -> None:
    path = _project(tmp_path, '{message: "paging ${team}", url: "${webhook}"}')
    drill = catalogue.load_drill(str(path))
    with pytest.raises(SpecError) as caught:
        variables.check_drill(drill, {"team": "ml"})
    (issue,) = caught.value.issues
    assert issue.file.endswith("paging.yaml") and issue.field == "steps.0.params.url" and issue.line == 5
    assert "${webhook}" in issue.message and "--var webhook=VALUE" in issue.message
    variables.check_drill(drill, {"team": "ml", "webhook": "http://127.0.0.1:1/x"})  # both set: fine


def test_notify_url_validation() -> None:
    assert NotifyParams(message="m", url="${webhook}").url == "${webhook}"
    assert NotifyParams(message="m", url="https://hooks.example/T/B/X").url
    with pytest.raises(ValueError, match="http"):
        NotifyParams(message="m", url="ftp://nope")


def test_drill_notify_webhook_is_validated(tmp_path: Path) -> None:
    path = _project(tmp_path, "{message: hi}", "notify: {webhook: 'not a url'}\n")
    with pytest.raises(SpecError) as caught:
        catalogue.load_drill(str(path))
    assert any(i.field == "notify" and "http(s) URL" in i.message for i in caught.value.issues)


@pytest.mark.parametrize("args", [["--var", "oops"], ["--var", "stable_version=v1"], ["--var", "9=x"]])
def test_cli_bad_var_exits_2_and_starts_nothing(args: list[str], tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:9")  # if anything tried Docker it would exit 3, not 2
    result = CliRunner().invoke(app, ["run", "canary-fail", "--store", f"{tmp_path}/d.db", *args])
    assert result.exit_code == 2, result.output
    assert "--var" in result.output
    assert not (tmp_path / "d.db").exists()  # no store opened, no row


def test_cli_unset_runbook_variable_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _project(tmp_path, '{message: hi, url: "${webhook}"}')
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:9")
    result = CliRunner().invoke(app, ["run", str(path), "--store", f"{tmp_path}/d.db"])
    assert result.exit_code == 2 and "steps.0.params.url" in result.output
    ok = CliRunner().invoke(app, ["run", str(path), "--dry-run", "--var", "webhook=http://127.0.0.1:1/h"])
    assert ok.exit_code == 0, ok.output


# ---- posting -------------------------------------------------------------------------------------

def test_post_text_delivers_the_chat_shape(receiver: Receiver) -> None:
    assert webhook.post_text(receiver.url, "rolling back fraud v3 -> v2", timeout=5) == 200
    assert receiver.bodies == [{"text": "rolling back fraud v3 -> v2"}]
    assert receiver.paths == ["/hooks/T0/secret"]


def test_loopback_never_goes_through_a_proxy(receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    assert webhook.post_text(receiver.url, "direct", timeout=5) == 200


def test_non_2xx_is_a_clear_step_failure_without_the_secret(receiver: Receiver) -> None:
    receiver.status = 404
    with pytest.raises(StepFailed) as caught:
        webhook.post_text(receiver.url, "x", timeout=5)
    message = str(caught.value)
    assert "answered 404" in message and "no such hook" in message
    assert "secret" not in message and "http://127.0.0.1:" in message


def test_connection_refused_and_timeout(receiver: Receiver) -> None:
    with pytest.raises(StepFailed, match="unreachable"):
        webhook.post_text("http://127.0.0.1:9/hook", "x", timeout=2)
    receiver.release.clear()  # the receiver holds its answer back
    with pytest.raises(StepFailed, match=r"no answer within 0\.3s"):
        webhook.post_text(receiver.url, "x", timeout=0.3)


def test_listener_posts_start_decision_result_without_blocking_the_run(receiver: Receiver) -> None:
    receiver.release.clear()  # a slow chat server: every answer held back until released
    listener = webhook.WebhookListener(receiver.url, "canary-fail", timeout=5)
    listener.on_event(RunStarted("run-1", "canary-fail", "ci"))
    ev = Evidence("candidate-5xx-ratio", "q", "fail", 0.2, 0.05, 20, 15)
    listener.on_event(Decided("rollback", "automated", (ev,)))  # returns while the first POST is still held
    assert receiver.got.wait(5) and len(receiver.bodies) == 1
    receiver.release.set()
    listener.on_event(RunFinished(make_result()))  # flushes, bounded by the timeout
    texts = [str(b["text"]) for b in receiver.bodies]
    assert texts[0] == "Drill canary-fail started (run run-1, profile ci)."
    assert texts[1] == "Drill canary-fail: decision rollback (automated) on candidate-5xx-ratio."
    assert texts[2].startswith("Drill canary-fail PASSED: rolled back to v2") and "1.60 s of the 900 s target" in texts[2]
    assert listener.sent == 3 and listener.failures == []


def test_listener_failure_is_logged_never_raised(receiver: Receiver, caplog: pytest.LogCaptureFixture) -> None:
    receiver.status = 500
    listener = webhook.WebhookListener(receiver.url, "canary-fail", events=("result",), timeout=2)
    listener.on_event(RunStarted("run-1", "canary-fail", "ci"))  # not subscribed: nothing sent
    listener.on_event(RunFinished(make_result()))
    assert len(receiver.bodies) == 1 and listener.sent == 0
    assert listener.failures and "answered 500" in listener.failures[0]
    assert any("answered 500" in r.getMessage() for r in caplog.records)
