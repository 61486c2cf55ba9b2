"""The summary report across stored drill runs, and the `drill report` command."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from harness.cli import report as report_cli
from harness.report import write_all
from harness.report.summary import period_key, write_summary
from harness.store import (
    Deployment,
    DrillRunRecord,
    Rollback,
    RootCause,
    Store,
    Trigger,
)
from tests.report.test_reports import make_result

T0 = datetime(2026, 10, 5, 9, 0, tzinfo=UTC)


def record(run_id: str, drill: str, start: datetime, took: float | None, status: str = "passed",
           report_dir: str | None = None) -> DrillRunRecord:
    decided = start + timedelta(seconds=10)
    return DrillRunRecord(
        run_id=run_id, drill=drill, status=status, trigger="automated" if took is not None else None,
        root_cause="performance", model="fraud", from_version="v3", to_version="v2" if took is not None else None,
        rolled_back=took is not None, started_at=start, deployed_at=start + timedelta(seconds=6),
        first_breach_at=start + timedelta(seconds=8), decision_at=decided if took is not None else None,
        rollback_started_at=decided if took is not None else None,
        completed_at=decided + timedelta(seconds=took) if took is not None else None, target_s=900.0,
        within_target=None if took is None else took <= 900, decision_to_completion_s=took, report_dir=report_dir)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    st = Store.open(f"sqlite:///{tmp_path}/drill.db")
    report_dir = tmp_path / "reports" / "run-1"
    write_all(make_result(report_dir=str(report_dir)), report_dir)
    st.record_drill_run(record("run-1", "canary-fail", T0, 1.6, report_dir=str(report_dir)))
    st.record_drill_run(record("run-2", "canary-fail", T0 + timedelta(days=8), 1000.0, status="failed"))
    st.record_drill_run(record("run-3", "blue-green", T0 + timedelta(days=9), None, status="failed"))
    for i in range(10):
        st.record_deployment(Deployment("fraud", f"p{i}", T0 + timedelta(days=i)))
    st.record_rollback(Rollback("fraud", "p3", "p2", T0 + timedelta(days=3, hours=2),
                                T0 + timedelta(days=3, hours=2, minutes=9), Trigger.AUTOMATED, RootCause.PERFORMANCE))
    yield st
    st.close()


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.links: list[str] = []
        self.depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.links.append(dict(attrs).get("href") or "")

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_summary_covers_every_run(store: Store, tmp_path: Path) -> None:
    out = tmp_path / "summary"
    paths = write_summary(store, None, None, out)
    assert [p.name for p in paths] == ["summary.html", "summary.md"]
    md = (out / "summary.md").read_text()
    page = (out / "summary.html").read_text()
    parser = _Text()
    parser.feed(page)
    text = " ".join(parser.text)
    for run_id in ("run-1", "run-2", "run-3"):
        assert run_id in md
        assert run_id in text
    assert "1.60 s of 900 s" in md and "1,000.00 s of 900 s" in md
    # The trend is per week for a 9-day span, one row per drill and week.
    assert "Trend per drill, per week" in md
    assert f"| canary-fail | {period_key(T0, 'week')} | 1 |" in md
    # Production metrics from the store: 1 rollback out of 10 deployments.
    assert "| rollback rate | 10.00 % — acceptable |" in md
    # The run with its report on disk links to it and shows its failed-during-rollback figure.
    # (once in the runs table, once on its point in the decision-to-completion chart).
    assert parser.links == ["../reports/run-1/report.html"] * 2


def test_summary_window_and_quarter_trend(store: Store, tmp_path: Path) -> None:
    paths = write_summary(store, T0 + timedelta(days=7), T0 + timedelta(days=30), tmp_path, period="quarter")
    md = paths[1].read_text()
    assert "run-1" not in md and "run-2" in md and "run-3" in md
    assert "per quarter" in md and "2026-Q4" in md


app = typer.Typer()
report_cli.register(app)


@app.callback()
def _root() -> None:
    """Keep `report` a subcommand in this test app."""


def test_report_command_writes_both_files(store: Store, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["report", "--quarter", "2026Q4", "--output", str(out), "--store", store.url])
    assert result.exit_code == 0, result.output
    assert (out / "summary.html").is_file() and (out / "summary.md").is_file()
    assert "run-1" in (out / "summary.md").read_text()


@pytest.mark.parametrize("value", ["2026Q5", "26Q1", "Q4-2026", "2026"])
def test_bad_quarter_exits_2_naming_the_option(value: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["report", "--quarter", value, "--store", f"{tmp_path}/d.db"])
    assert result.exit_code == 2
    assert "--quarter" in result.output


def test_quarter_and_until_conflict(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["report", "--quarter", "2026Q4", "--until", "2026-12-01",
                                      "--store", f"{tmp_path}/d.db"])
    assert result.exit_code == 2
    assert "--quarter" in result.output


@pytest.mark.parametrize("text,start,end", [
    ("2026Q4", datetime(2026, 10, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)),
    ("2026-q1", datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)),
])
def test_parse_quarter(text: str, start: datetime, end: datetime) -> None:
    assert report_cli.parse_quarter(text) == (start, end)


def test_summary_charts_rate_per_week_and_every_rollback(store: Store, tmp_path: Path) -> None:
    from harness.report.summary import build, cause_rows, completion_points, share_rows

    s = build(store, None, None)
    assert s.period == "week"
    # Deployments on days 0..9 from Monday T0; p3 was rolled back: 1 of 7 in the first week, 0 of 3 after.
    rates = [(g.key, g.metrics.deployments, g.metrics.rollbacks) for g in s.rate_by_period]
    assert rates == [(period_key(T0, "week"), 7, 1), (period_key(T0 + timedelta(days=7), "week"), 3, 0)]
    points = completion_points(s, tmp_path)
    # The production rollback (9 min) and the two drill runs that completed (1.6 s and 1000 s).
    assert sorted((p.kind, p.seconds) for p in points) == [("drill", 1.6), ("drill", 1000.0), ("production", 540.0)]
    assert share_rows(s) == [("production", 1, 0), ("drill runs", 2, 0)]
    assert cause_rows(s) == [("performance", 1, 2)]
    page = write_summary(store, None, None, tmp_path / "out")[0].read_text()
    for cls in ("rate-bands", "completion", "share", "causes"):
        assert f'class="{cls}"' in page


def test_a_promoted_control_is_not_a_rollback_in_the_charts(tmp_path: Path) -> None:
    from harness.listeners.recording import to_record
    from harness.report.summary import build, completion_points, share_rows

    with Store.open(f"sqlite:///{tmp_path}/drill.db") as st:
        control_dir = tmp_path / "reports" / "control"
        control = make_result(run_id="control", drill="good-canary", decision="promote", rolled_back=False,
                              expect="promote", report_dir=str(control_dir))
        write_all(control, control_dir)
        st.record_drill_run(to_record(control))
        assert st.list_drill_runs()[0].decision_to_completion_s is not None  # the promotion was timed too
        s = build(st, None, None)
    assert completion_points(s, tmp_path) == []
    assert share_rows(s) == [("production", 0, 0), ("drill runs", 0, 0)]
