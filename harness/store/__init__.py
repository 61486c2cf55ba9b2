"""The rollback metrics store: production and drill rollback history, and its figures.

    from harness.store import Store, MetricsQuery
    with Store.open() as store:                 # $DRILL_STORE or ~/.local/share/drill/drill.db
        store.record_deployment(Deployment("fraud", "7", deployed_at))
        print(store.metrics(MetricsQuery(since=..., until=...)).rollback_rate_pct)

Modules: `records` (value types), `codec` (JSONL in/out) and `run_codec` (drill runs in it), `text` (no
control characters in free text), `schema` (tables, migrations), `db` (URLs, engines), `rows` (row mapping),
`store` (the Store), `history` (impossible histories refused), `definitions` (what every figure counts: labels,
populations, the docs' table), `metrics` (in-window figures, in SQL) and `period` (all rollbacks of the
period), `postmortems` (RCA links, cause keys, their signals), `gamedays`, `freshness` (what `drill status`
reads), `trends` (by quarter / model), `openmetrics`, `render` (rich).
"""

from __future__ import annotations

from harness.store.causes import check_cause_key, check_cause_keys
from harness.store.codec import (
    event_from_json,
    event_to_json,
    format_timestamp,
    parse_date_or_timestamp,
    parse_timestamp,
    read_jsonl,
    write_jsonl,
)
from harness.store.db import DEFAULT_STORE_ENV, resolve_store_url
from harness.store.freshness import Latest, RunSummary
from harness.store.gamedays import ROLES, ActionItem, GameDayRecord, LogEntry, Participant
from harness.store.metrics import BANDS, INTERPRETATION, Metrics, MetricsQuery, band_for
from harness.store.postmortems import PostmortemSignals, RepeatedCause, StoredRollback
from harness.store.records import (
    DRILL_ENVIRONMENT,
    PRODUCTION,
    Deployment,
    DrillRunRecord,
    Event,
    ImportResult,
    Rollback,
    RootCause,
    RunStatus,
    StepRecord,
    Trigger,
)
from harness.store.schema import LATEST_VERSION
from harness.store.store import Store
from harness.store.trends import GroupBy, MetricsGroup

__all__ = [
    "BANDS",
    "DEFAULT_STORE_ENV",
    "DRILL_ENVIRONMENT",
    "INTERPRETATION",
    "LATEST_VERSION",
    "PRODUCTION",
    "ROLES",
    "ActionItem",
    "Deployment",
    "DrillRunRecord",
    "Event",
    "GameDayRecord",
    "GroupBy",
    "ImportResult",
    "Latest",
    "LogEntry",
    "Metrics",
    "MetricsGroup",
    "MetricsQuery",
    "Participant",
    "PostmortemSignals",
    "RepeatedCause",
    "Rollback",
    "RootCause",
    "RunStatus",
    "RunSummary",
    "StepRecord",
    "Store",
    "StoredRollback",
    "Trigger",
    "band_for",
    "check_cause_key",
    "check_cause_keys",
    "event_from_json",
    "event_to_json",
    "format_timestamp",
    "parse_date_or_timestamp",
    "parse_timestamp",
    "read_jsonl",
    "resolve_store_url",
    "write_jsonl",
]
