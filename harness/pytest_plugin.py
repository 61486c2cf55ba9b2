"""pytest plugin: a ``drill`` fixture that runs rollback drills from a team's own test suite.

    def test_rollback(drill):
        result = drill.run("canary-fail")
        assert result.within_target and result.passed

Options: ``--drill-profile`` (default ci), ``--drill-report-dir`` (default: under the test's
tmp_path), ``--drill-store`` (default $DRILL_STORE, else a SQLite file under tmp_path).
Loaded in every pytest session through the ``pytest11`` entry point, so it imports nothing
heavy: harness.api (Docker, SQLAlchemy, ...) is imported on the first ``drill.run``. A SIGTERM to the test
process mid-run (a cancelled CI job) tears the stack down as Ctrl-C does (the engine handles it): ``drill.run``
raises ``RunInterrupted`` carrying the aborted result.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from harness.engine.results import DrillResult

STORE_ENV = "DRILL_STORE"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("drill", "rollback drills (harness.pytest_plugin)")
    group.addoption("--drill-profile", default="ci", metavar="NAME",
                    help="Drill profile for drill.run (default: ci).")
    group.addoption("--drill-report-dir", default=None, metavar="DIR",
                    help="Where drill reports go, as DIR/<run-id>/ (default: under each test's tmp_path).")
    group.addoption("--drill-store", default=None, metavar="URL",
                    help=f"Metrics store for drill runs (default: ${STORE_ENV}, else a SQLite file under tmp_path).")


class DrillRunner:
    """What the ``drill`` fixture gives a test: ``run(name, **options) -> DrillResult``."""

    def __init__(self, profile: str, report_root: Path, store_url: str, node: pytest.Item | None = None) -> None:
        self.profile = profile
        self.report_root = report_root
        self.store_url = store_url
        self.results: list[DrillResult] = []
        self._node = node

    def run(self, name: str, **options: Any) -> DrillResult:
        """Run drill ``name`` (a name on the drill path, or a YAML path) and return its result.

        ``options`` are RunOptions fields (profile, manual, human, run_id, report_root) plus
        ``listeners``, ``store_url`` and ``record`` for harness.api.run_drill.
        """
        from harness import api
        from harness.engine.engine import RunOptions

        listeners = options.pop("listeners", ())
        store_url = options.pop("store_url", self.store_url)
        record = options.pop("record", True)
        options.setdefault("profile", self.profile)
        options.setdefault("report_root", self.report_root)
        result = api.run_drill(name, RunOptions(**options), listeners, store_url=store_url, record=record)
        self.results.append(result)
        if self._node is not None:
            self._node.user_properties.append(("drill_run", f"{result.run_id} {result.status.value} "
                                                            f"{result.report_dir or ''}".strip()))
        return result


@pytest.fixture
def drill(request: pytest.FixtureRequest, tmp_path: Path) -> DrillRunner:
    """Run rollback drills against a real container stack; reports and a store under tmp_path by default."""
    config = request.config
    report_dir = config.getoption("--drill-report-dir")
    store = config.getoption("--drill-store") or os.environ.get(STORE_ENV) or f"sqlite:///{tmp_path / 'drill.db'}"
    root = Path(report_dir) if report_dir else tmp_path / "drill-reports"
    node = request.node if isinstance(request.node, pytest.Item) else None
    return DrillRunner(config.getoption("--drill-profile"), root, store, node)
