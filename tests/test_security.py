"""Security bits: shell runbooks come from the drill's own project, owner-only stores, no proxy for loopback."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.errors import SpecError
from harness.spec import catalogue
from harness.store import Store

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE = ROOT / "harness" / "data"


def _project(root: Path, allow_shell: bool, with_runbook: bool) -> Path:
    drill = yaml.safe_load((CATALOGUE / "drills" / "canary-fail.yaml").read_text())
    drill.update(name="shelly", runbook="ops", allow_shell=allow_shell)
    (root / "drills").mkdir(parents=True)
    (root / "runbooks").mkdir()
    (root / "drills" / "shelly.yaml").write_text(yaml.safe_dump(drill))
    if with_runbook:
        (root / "runbooks" / "ops.yaml").write_text(yaml.safe_dump(
            {"name": "ops", "steps": [{"name": "own", "action": "notify", "params": {"message": "mine"}}]}))
    return root / "drills" / "shelly.yaml"


def _intruder(cwd: Path) -> None:
    (cwd / "runbooks").mkdir(parents=True)
    (cwd / "runbooks" / "ops.yaml").write_text(yaml.safe_dump(
        {"name": "ops", "steps": [{"name": "evil", "action": "shell", "params": {"command": "touch /tmp/pwned"}}]}))


def test_a_shell_drill_never_takes_a_runbook_from_the_current_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    drill = _project(tmp_path / "project", allow_shell=True, with_runbook=False)
    _intruder(tmp_path / "cwd")
    monkeypatch.chdir(tmp_path / "cwd")
    monkeypatch.delenv("DRILL_PATH", raising=False)
    with pytest.raises(SpecError) as exc:
        catalogue.load_drill(str(drill))
    assert "allow_shell" in str(exc.value) and exc.value.issues[0].field == "runbook"


def test_a_shell_drill_runs_its_own_projects_runbook(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    drill = _project(tmp_path / "project", allow_shell=True, with_runbook=True)
    _intruder(tmp_path / "cwd")
    monkeypatch.chdir(tmp_path / "cwd")
    loaded = catalogue.load_drill(str(drill))
    assert loaded.runbook_path.resolve() == (tmp_path / "project" / "runbooks" / "ops.yaml").resolve()
    assert [s.name for s in loaded.runbook.steps] == ["own"]


def test_a_shell_drill_cannot_name_a_runbook_path_outside_its_project(tmp_path: Path) -> None:
    drill = _project(tmp_path / "project", allow_shell=True, with_runbook=True)
    _intruder(tmp_path / "elsewhere")
    data = yaml.safe_load(drill.read_text())
    data["runbook"] = str(tmp_path / "elsewhere" / "runbooks" / "ops.yaml")
    drill.write_text(yaml.safe_dump(data))
    with pytest.raises(SpecError):
        catalogue.load_drill(str(drill))


def test_the_store_is_created_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "data" / "drill" / "drill.db"
    with Store.open(str(path)):
        pass
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    for extra in path.parent.glob("drill.db-*"):
        assert stat.S_IMODE(extra.stat().st_mode) & 0o077 == 0


class _Prom(BaseHTTPRequestHandler):
    hits: list[str] = []

    def log_message(self, *a: Any) -> None:
        pass

    def do_GET(self) -> None:
        type(self).hits.append(self.path)
        body = json.dumps({"status": "success", "data": {"resultType": "scalar", "result": [0, "42"]}}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Proxy(_Prom):
    hits: list[str] = []

    def do_GET(self) -> None:
        type(self).hits.append(self.path)
        self.send_error(502, "proxied")


def test_prometheus_client_ignores_http_proxy_for_loopback() -> None:
    servers = [ThreadingHTTPServer(("127.0.0.1", 0), h) for h in (_Prom, _Proxy)]
    for s in servers:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    prom, proxy = (s.server_address[1] for s in servers)
    script = textwrap.dedent(f"""
        from harness.stack.prometheus import PrometheusClient
        print(PrometheusClient("http://127.0.0.1:{prom}").query("up"))
    """)
    env = {**os.environ, "http_proxy": f"http://127.0.0.1:{proxy}", "HTTP_PROXY": f"http://127.0.0.1:{proxy}",
           "no_proxy": "", "NO_PROXY": ""}
    try:
        out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=30)
    finally:
        for s in servers:
            s.shutdown()
    assert out.stdout.strip() == "42.0", out.stderr
    assert _Proxy.hits == [] and len(_Prom.hits) == 1


def test_runbook_instructions_keep_their_channel_names() -> None:
    # `#ml-incidents` unquoted after a space is a YAML comment: the instruction would lose its end.
    for path in sorted((CATALOGUE / "runbooks").glob("*.yaml")):
        for step in yaml.safe_load(path.read_text())["steps"]:
            raw = step.get("instructions")
            if raw is not None:
                assert raw.rstrip().endswith((".", "!", "?", ")")), f"{path}: {step['name']}: {raw!r}"
    page = (ROOT / "docs" / "runbooks.md").read_text()  # the runbook example moved there from the README
    block = page.split("## Runbooks as code", 1)[1].split("```yaml", 1)[1].split("```", 1)[0]
    steps = yaml.safe_load(block)["steps"]
    assert any("#ml-incidents" in (s.get("instructions") or "") for s in steps)
