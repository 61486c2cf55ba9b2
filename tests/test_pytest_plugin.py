"""The pytest plugin: cheap to load, its options, and (Docker) a real drill from a generated test."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytest_plugins = ["pytester"]


def _plugin_args() -> list[str]:
    """`-p harness.pytest_plugin` only when the entry point is not installed (else it would load twice)."""
    installed = any(ep.value == "harness.pytest_plugin" for ep in entry_points(group="pytest11"))
    return [] if installed else ["-p", "harness.pytest_plugin"]


def test_plugin_imports_nothing_heavy() -> None:
    code = ("import sys, harness.pytest_plugin; "
            "heavy = [m for m in ('harness.api', 'harness.engine.engine', 'docker', 'sqlalchemy', 'testcontainers') "
            "if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_options_and_fixture_defaults(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DRILL_STORE", raising=False)
    pytester.makepyfile("""
        def test_defaults(drill, tmp_path):
            assert drill.profile == "quarterly"
            assert drill.report_root == tmp_path / "drill-reports"
            assert drill.store_url == f"sqlite:///{tmp_path / 'drill.db'}"

        def test_help_mentions_options(pytestconfig):
            assert pytestconfig.getoption("--drill-store") is None
    """)
    result = pytester.runpytest_subprocess(*_plugin_args(), "--drill-profile", "quarterly", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_store_from_environment_and_report_dir_option(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: Path) -> None:
    monkeypatch.setenv("DRILL_STORE", "sqlite:////tmp/somewhere.db")
    pytester.makepyfile(f"""
        from pathlib import Path
        def test_env(drill):
            assert drill.store_url == "sqlite:////tmp/somewhere.db"
            assert drill.report_root == Path({str(tmp_path / 'r')!r})
    """)
    result = pytester.runpytest_subprocess(*_plugin_args(), f"--drill-report-dir={tmp_path / 'r'}")
    result.assert_outcomes(passed=1)


@pytest.mark.docker
@pytest.mark.timeout(600)
def test_real_drill_through_the_plugin(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
                                       tmp_path: Path) -> None:
    monkeypatch.setenv("DRILL_PATH", str(ROOT))
    monkeypatch.delenv("DRILL_STORE", raising=False)
    reports = tmp_path / "reports"
    pytester.makepyfile("""
        def test_rollback(drill):
            r = drill.run("canary-fail")
            assert r.within_target and r.passed
    """)
    result = pytester.runpytest_subprocess(*_plugin_args(), f"--drill-report-dir={reports}", timeout=540)
    result.assert_outcomes(passed=1)
    runs = [d for d in reports.iterdir() if d.is_dir()]
    assert len(runs) == 1
    run_dir = runs[0]
    assert (run_dir / "report.html").is_file()
    assert "<svg" in (run_dir / "report.html").read_text()
    suite = ET.parse(run_dir / "junit.xml").getroot().find("testsuite")
    assert suite is not None and suite.get("name") == "drill.canary-fail"
    assert suite.get("failures") == "0"
    assert [c.get("name") for c in suite.findall("testcase")] == [
        "as_expected", "detected", "rolled_back", "verified", "within_target", "no_failed_requests_during_rollback",
        "serving_stable_after"]
