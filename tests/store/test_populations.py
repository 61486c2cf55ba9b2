"""Every figure names its population (issue 28, finding 5), on SQLite and PostgreSQL.

The `scenario` fixture, period [2026-10-01, 2026-11-01): *all* unplanned production rollbacks decided in
the period, however long after their deployment, are seven:

    fraud 1 (4 h, 5 min, automated, performance)       fraud 2 (2 h, 10 min, automated, performance, RCA)
    fraud 2 again (14 h, 30 min, manual, other)        fraud 3 (10 h, 20 min, manual, performance)
    churn 1 (8 days = 192 h, 5 min, automated, upstream-data)
    ranker 1 (1 h, 5 min, automated, safety)           ranker 3 (4 h, 30 min, manual, performance, RCA)

    (churn 3 is decided after --until; fraud 4's is planned; the drill is another environment.)
    time to rollback 227/7 h; decision -> completion 105/7 = 15 min; within 15 min: 5, 10, 5, 5 -> 4/7;
    automated 4/7; performance 4, other 1, upstream-data 1, safety 1; RCA 2/7; planned 1.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from harness.store import Deployment, MetricsQuery, Store, parse_timestamp, write_jsonl
from harness.store.definitions import DOCS_MARKER, FIGURES, POPULATIONS, definitions_markdown
from harness.store.openmetrics import render
from tests.store.conftest import rollback

OCTOBER = MetricsQuery(since=parse_timestamp("2026-10-01T00:00:00Z"),
                       until=parse_timestamp("2026-11-01T00:00:00Z"))
OCT = ["--since", "2026-10-01", "--until", "2026-11-01"]
ROOT = Path(__file__).resolve().parents[2]


def test_all_rollbacks_of_the_period(store: Store, scenario: list) -> None:
    store.import_events(scenario)
    a = store.metrics(OCTOBER).all_rollbacks
    assert a is not None
    assert (a.rollbacks, a.with_deployment, a.planned_rollbacks) == (7, 7, 1)
    assert a.mean_time_to_rollback_hours == pytest.approx(227 / 7)
    assert a.mean_decision_to_completion_minutes == pytest.approx(15.0)
    assert a.within_target_pct == pytest.approx(400 / 7)
    assert a.automated_rollback_rate_pct == pytest.approx(400 / 7)
    assert a.rca_coverage_pct == pytest.approx(200 / 7)
    assert a.root_causes == {"performance": 4, "safety": 1, "infrastructure": 0, "upstream-data": 1,
                             "business-rule": 0, "other": 1}


def test_a_business_rule_rollback_ten_days_in_shows_in_the_all_rollbacks_figures(store: Store) -> None:
    store.record_deployment(Deployment("fraud", "7", parse_timestamp("2026-10-01T00:00:00Z")))
    store.record_rollback(rollback("fraud", "7", "2026-10-11T00:00:00Z", 30, trigger="manual",
                                   cause="business-rule"))
    m = store.metrics(OCTOBER)
    assert (m.deployments, m.rollbacks, m.root_causes["business-rule"]) == (1, 0, 0)  # the rate's window: 7 d
    a = m.all_rollbacks
    assert a is not None
    assert (a.rollbacks, a.root_causes["business-rule"], a.within_target_pct) == (1, 1, 0.0)
    assert a.mean_time_to_rollback_hours == 240.0
    assert a.automated_rollback_rate_pct == 0.0
    data = m.to_json()
    assert data["population"] == "in_window"
    assert data["all_rollbacks"]["population"] == "all_rollbacks"
    assert data["all_rollbacks"]["mean_time_to_rollback_hours"] == 240.0
    text = render([((), m)])
    assert 'drill_mean_time_to_rollback_seconds{environment="production",population="all_rollbacks"} 864000' in text
    assert ('drill_rollbacks_by_root_cause{environment="production",population="all_rollbacks",'
            'root_cause="business-rule"} 1') in text


def test_the_cli_names_each_population(cli_app: typer.Typer, store_url: str, scenario: list,
                                       tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    with events.open("w") as handle:
        write_jsonl(scenario, handle)
    runner = CliRunner()
    assert runner.invoke(cli_app, ["import", str(events), "--store", store_url]).exit_code == 0
    table = runner.invoke(cli_app, ["metrics", *OCT, "--store", store_url]).stdout
    for population in POPULATIONS[:2]:
        assert population.short in table
    assert "RCA coverage (rollbacks of the last six months)" in table
    assert "15.0 min" in table  # the all-rollbacks mean decision -> completion beside the in-window 16.0
    data = json.loads(runner.invoke(cli_app, ["metrics", *OCT, "--json", "--store", store_url]).stdout)
    assert data["all_rollbacks"]["rollbacks"] == 7
    assert data["postmortems"]["population"] == "six_months"


def test_the_store_page_is_generated_from_the_definitions() -> None:
    spec = importlib.util.spec_from_file_location("docs_hook", ROOT / "docs" / "hooks" / "reference.py")
    assert spec is not None and spec.loader is not None
    hook = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hook)
    on_page_markdown = hook.on_page_markdown
    page = (ROOT / "docs" / "store.md").read_text(encoding="utf-8")
    assert DOCS_MARKER in page
    rendered = on_page_markdown(page, page=None, config=None, files=None)
    assert DOCS_MARKER not in rendered and definitions_markdown() in rendered
    for figure in FIGURES.values():
        assert f"`{figure.key}`" in rendered, figure.key
    for edge in ("rate < 5 %", "5 % <= rate <= 10 %", "10 % < rate <= 20 %", "rate > 20 %"):
        assert edge in rendered
