"""The metric definitions against hand-computed figures, on SQLite and PostgreSQL.

The `scenario` fixture (conftest), period [2026-10-01, 2026-11-01), window 7 days:

    counted deployments: fraud 2,3,4,5  churn 1,2,3  ranker 1,2,3            = 10
      (fraud 1 is 2026-09-30T23:00Z, written +02:00 as Oct 1: before since;
       churn 4 at 2026-11-01T00:00Z: until is exclusive)
    rolled back: fraud 2 (2 h, 10 min, automated, performance, RCA)
                 fraud 3 (06:00-04:00 = 10:00Z: 10 h, 20 min, manual, performance)
                 churn 3 (decided after until, 48 h, 15 min, automated, infrastructure, RCA)
                 ranker 1 (1 h, 5 min, automated, safety)
                 ranker 3 (4 h, 30 min, manual, performance, RCA)                = 5
      not: fraud 2's second rollback (the earliest counts), fraud 4 (planned),
           churn 1 (decided after 8 days), fraud 1 (deployment not counted),
           the drill (environment "drill").
    rate 50 % high-risk; MTTR (2+10+48+1+4)/5 = 13 h; decision->completion
    (10+20+15+5+30)/5 = 16 min; within 15 min: 10, 15, 5 -> 60 %; automated 3/5 = 60 %;
    repeat: fraud (2 then 3) of fraud, churn, ranker -> 33.3 %; planned 1;
    root causes performance 3, infrastructure 1, safety 1; RCA 3/5 = 60 %.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from harness.store import (
    Deployment,
    GroupBy,
    MetricsQuery,
    Rollback,
    Store,
    band_for,
    parse_timestamp,
)

OCTOBER = MetricsQuery(since=parse_timestamp("2026-10-01T00:00:00Z"),
                       until=parse_timestamp("2026-11-01T00:00:00Z"))


@pytest.fixture
def loaded(store: Store, scenario: list) -> Store:
    store.import_events(scenario)
    return store


def test_scenario_figures(loaded: Store) -> None:
    m = loaded.metrics(OCTOBER)
    data = m.to_json()
    assert data.pop("all_rollbacks")["rollbacks"] == 7  # the other population: test_populations.py
    assert data == {
        "population": "in_window",
        "window_days": 7.0,
        "target_minutes": 15.0,
        "deployments": 10,
        "rollbacks": 5,
        "rollback_rate_pct": 50.0,
        "band": "high-risk",
        "mean_time_to_rollback_hours": 13.0,
        "mean_decision_to_completion_minutes": 16.0,
        "within_target_pct": 60.0,
        "automated_rollback_rate_pct": 60.0,
        "repeat_rollback_rate_pct": 33.3333,
        "planned_rollbacks": 1,
        "root_causes": {"performance": 3, "safety": 1, "infrastructure": 1, "upstream-data": 0,
                        "business-rule": 0, "other": 0},
        "rca_coverage_pct": 60.0,
    }
    assert m.repeated_root_causes == ["performance"]


def test_shorter_window_drops_the_rollback_after_48_hours(loaded: Store) -> None:
    m = loaded.metrics(MetricsQuery(OCTOBER.since, OCTOBER.until, window_days=1))
    assert (m.deployments, m.rollbacks, m.rollback_rate_pct) == (10, 4, 40.0)
    assert m.root_causes["infrastructure"] == 0


def test_longer_window_takes_the_rollback_after_8_days(loaded: Store) -> None:
    m = loaded.metrics(MetricsQuery(OCTOBER.since, OCTOBER.until, window_days=9))
    assert (m.rollbacks, m.root_causes["upstream-data"]) == (6, 1)


def test_target_minutes_is_inclusive(loaded: Store) -> None:
    assert loaded.metrics(MetricsQuery(OCTOBER.since, OCTOBER.until,
                                       target_minutes=14.99)).within_target_pct == 40.0
    assert loaded.metrics(MetricsQuery(OCTOBER.since, OCTOBER.until,
                                       target_minutes=30)).within_target_pct == 100.0


def test_all_time_counts_the_earlier_deployment_and_its_repeat(loaded: Store) -> None:
    m = loaded.metrics(MetricsQuery())
    # 12 production deployments; fraud 1 (4 h) joins; churn 4 stays.
    assert (m.deployments, m.rollbacks, m.rollback_rate_pct) == (12, 6, 50.0)
    assert m.mean_time_to_rollback_hours == pytest.approx(69 / 6)


def test_drills_stay_out_of_production(loaded: Store) -> None:
    drill = loaded.metrics(MetricsQuery(environment="drill"))
    assert (drill.deployments, drill.rollbacks, drill.mean_decision_to_completion_minutes) == (1, 1, 2.0)


def test_model_filter(loaded: Store) -> None:
    m = loaded.metrics(MetricsQuery(OCTOBER.since, OCTOBER.until, model="ranker"))
    assert (m.deployments, m.rollbacks, m.repeat_rollback_rate_pct) == (3, 2, 0.0)
    assert m.mean_decision_to_completion_minutes == 17.5


def test_by_model(loaded: Store) -> None:
    groups = loaded.metrics_by(OCTOBER, GroupBy.MODEL)
    assert [(g.key, g.metrics.deployments, g.metrics.rollbacks) for g in groups] == [
        ("churn", 3, 1), ("fraud", 4, 2), ("ranker", 3, 2)]
    assert [g.metrics.repeat_rollback_rate_pct for g in groups] == [0.0, 100.0, 0.0]


def test_by_quarter_rolls_the_late_deployment_into_q3(loaded: Store) -> None:
    q = MetricsQuery(since=parse_timestamp("2026-07-01T00:00:00Z"),
                     until=parse_timestamp("2027-01-01T00:00:00Z"))
    groups = loaded.metrics_by(q, GroupBy.QUARTER)
    assert [(g.key, g.metrics.deployments, g.metrics.rollbacks) for g in groups] == [
        ("2026-Q3", 1, 1), ("2026-Q4", 11, 5)]


def test_by_quarter_without_bounds_spans_the_data(loaded: Store) -> None:
    groups = loaded.metrics_by(MetricsQuery(), GroupBy.QUARTER)
    assert [g.key for g in groups] == ["2026-Q3", "2026-Q4"]


def test_no_rollbacks_means_are_undefined(store: Store) -> None:
    store.record_deployment(Deployment("m", "1", parse_timestamp("2026-10-02T00:00:00Z")))
    m = store.metrics(OCTOBER).to_json()
    assert (m["deployments"], m["rollbacks"], m["rollback_rate_pct"], m["band"]) == (1, 0, 0.0, "excellent")
    for key in ("mean_time_to_rollback_hours", "mean_decision_to_completion_minutes",
                "within_target_pct", "automated_rollback_rate_pct", "repeat_rollback_rate_pct",
                "rca_coverage_pct"):
        assert m[key] is None, key


def test_empty_store(store: Store) -> None:
    m = store.metrics(OCTOBER)
    assert (m.deployments, m.rollbacks, m.rollback_rate_pct, m.band) == (0, 0, None, None)
    assert store.metrics_by(OCTOBER, GroupBy.MODEL) == []


def test_redeployed_version_is_counted_once(store: Store, make_rollback: Callable[..., Rollback]) -> None:
    """A rollback belongs to the latest deployment of its version before the decision."""
    store.import_events([
        Deployment("m", "7", parse_timestamp("2026-10-02T00:00:00Z")),
        Deployment("m", "7", parse_timestamp("2026-10-03T00:00:00Z")),
        make_rollback("m", "7", "2026-10-03T01:00:00Z", 5),
    ])
    m = store.metrics(OCTOBER)
    assert (m.deployments, m.rollbacks, m.mean_time_to_rollback_hours) == (2, 1, 1.0)


@pytest.mark.parametrize(("deployments", "band"), [
    (21, "excellent"),   # 4.76 %
    (20, "acceptable"),  # 5 % exactly
    (10, "acceptable"),  # 10 % exactly
    (9, "concerning"),   # 11.1 %
    (5, "concerning"),   # 20 % exactly
    (4, "high-risk"),    # 25 %
])
def test_band_boundaries_through_the_store(store: Store, make_rollback: Callable[..., Rollback],
                                           deployments: int, band: str) -> None:
    start = parse_timestamp("2026-10-01T00:00:00Z")
    events: list = [Deployment("m", str(i), start + timedelta(hours=i)) for i in range(deployments)]
    events.append(make_rollback("m", "0", "2026-10-01T00:30:00Z", 5))
    store.import_events(events)
    m = store.metrics(OCTOBER)
    assert (m.rollbacks, m.band) == (1, band)
    assert m.rollback_rate_pct == pytest.approx(100 / deployments)


@pytest.mark.parametrize(("rolled", "total", "band"), [
    (0, 1, "excellent"), (1, 20, "acceptable"), (49, 1000, "excellent"), (50, 1000, "acceptable"),
    (100, 1000, "acceptable"), (101, 1000, "concerning"), (200, 1000, "concerning"),
    (201, 1000, "high-risk"), (0, 0, None),
])
def test_band_for(rolled: int, total: int, band: str | None) -> None:
    assert band_for(rolled, total) == band


def test_repeat_needs_adjacent_rolled_back_deployments(store: Store,
                                                      make_rollback: Callable[..., Rollback]) -> None:
    """a: 1 rb, 2 rb, 3 stays -> repeat. b: 1 rb, 2 stays, 3 rb -> none. 1 of 2 models."""
    events: list = []
    for model, pattern in (("a", (True, True, False)), ("b", (True, False, True))):
        for i, rolled in enumerate(pattern):
            at = parse_timestamp("2026-10-02T00:00:00Z") + timedelta(days=i)
            events.append(Deployment(model, str(i), at))
            if rolled:
                events.append(make_rollback(model, str(i), (at + timedelta(hours=1)).isoformat(), 5))
    store.import_events(events)
    assert store.metrics(OCTOBER).repeat_rollback_rate_pct == 50.0
