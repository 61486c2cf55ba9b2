"""The summary report's rows: a drill run (with its report.json when still on disk), a trend row, the whole summary."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from harness.engine.results import DrillResult
from harness.store import DrillRunRecord, Metrics, MetricsGroup, Rollback


@dataclass(frozen=True)
class RunRow:
    record: DrillRunRecord
    result: DrillResult | None  # from report.json, when it is still on disk

    @property
    def detect_s(self) -> float | None:
        r = self.record
        if r.deployed_at is None or r.decision_at is None:
            return None
        return round((r.decision_at - r.deployed_at).total_seconds(), 3)

    @property
    def failed_during_rollback(self) -> int | None:
        if self.result is None or self.result.traffic is None:
            return None
        return self.result.traffic.failed_during_rollback


@dataclass(frozen=True)
class TrendRow:
    drill: str
    period: str
    runs: int
    passed: int
    within_target: int
    measured: int  # runs with a decision-to-completion time
    median_s: float | None
    max_s: float | None


@dataclass(frozen=True)
class Summary:
    since: datetime | None
    until: datetime | None
    period: Literal["week", "quarter"]
    runs: list[RunRow]
    trend: list[TrendRow]
    production: Metrics
    production_by_quarter: list[MetricsGroup]
    rate_by_period: list[MetricsGroup]  # the production rate per week or per quarter, for the chart
    production_rollbacks: list[Rollback]  # decided in the period, unplanned
    target_minutes: float = 15.0
