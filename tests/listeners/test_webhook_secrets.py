"""A webhook URL's secret path never lands anywhere (issue 28): URLs with whitespace or control characters are
refused at load (exit 2, file and field), and every exception text is scrubbed before it is stored or printed."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.cli.main import app
from harness.engine.context import RunContext
from harness.engine.results import StepStatus
from harness.errors import StepFailed
from harness.listeners import webhook
from harness.ports import Endpoint
from harness.runbook import executor as runbook
from harness.spec.models import RunbookSpec
from harness.traffic.generator import LoadGenerator
from tests.fakes import FakeTarget
from tests.spec.test_variables_webhook import _project

SECRET = "T0SECRET/B0SECRET/XYZSECRET"


@pytest.mark.parametrize("bad", [f"https://hooks.example/{SECRET} x", f"https://hooks.example/{SECRET}\x07",
                                 f"https://hooks.example/{SECRET}\n"])
def test_a_webhook_with_whitespace_or_control_characters_is_refused_at_load(bad: str, tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    path = _project(tmp_path, "{message: hi}", f"notify: {{webhook: {bad!r}}}\n".replace("'", '"').replace("\\x07", "\\a"))
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:9")  # anything that reached Docker would exit 3, not 2
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2, result.output
    assert "paging-drill.yaml" in result.output and "notify" in result.output and "control character" in result.output
    assert "SECRET" not in result.output


def test_a_var_that_puts_a_space_in_a_webhook_is_refused_before_anything_starts(tmp_path: Path,
                                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    path = _project(tmp_path, '{message: hi, url: "${hook}"}', 'notify: {webhook: "${hook}"}\n')
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:9")
    result = CliRunner().invoke(app, ["run", str(path), "--store", f"{tmp_path}/d.db",
                                      "--var", f"hook=https://hooks.example/{SECRET} --x"])
    assert result.exit_code == 2, result.output
    assert "notify.webhook" in result.output and "steps.0.params.url" in result.output
    assert "SECRET" not in result.output and not (tmp_path / "d.db").exists()


def test_posting_to_a_url_http_client_refuses_is_a_step_failure_without_the_secret() -> None:
    with pytest.raises(StepFailed) as caught:
        webhook.post_text(f"http://127.0.0.1:9/{SECRET}\x7f", "hi", timeout=1.0)
    assert "SECRET" not in str(caught.value) and "127.0.0.1" in str(caught.value)


def test_a_step_whose_url_a_variable_spoils_at_run_time_records_no_secret() -> None:
    """pydantic quotes the refused value in its error: the step's recorded error is scrubbed of it."""
    target = FakeTarget()
    load = LoadGenerator(Endpoint("127.0.0.1", 9), target.protocol, rate=1)  # never started
    ctx = RunContext(target=target, load=load, emit=lambda e: None,
                     variables={"hook": f"https://hooks.example/{SECRET} x"})
    spec = RunbookSpec.model_validate({"name": "t", "steps": [
        {"name": "page", "action": "notify", "params": {"message": "hi", "url": "${hook}"}}]})
    step = runbook.execute(spec, ctx, lambda e: None).steps[0]
    assert step.status is StepStatus.FAILED and step.error
    assert "SECRET" not in step.error and "hooks.example" in step.error
