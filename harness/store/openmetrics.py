"""The metrics in OpenMetrics text format, for a textfile collector or a push.

Prometheus conventions rather than the JSON's: base units (seconds, ratios 0-1), every
family a gauge (these are figures over a window, not monotonic counters), names prefixed
`drill_`, and `# EOF` at the end. An undefined mean (no rollbacks) has no sample rather
than a made-up zero. Grouped output (`--by`) adds a `quarter` or `model` label.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from harness.store.definitions import ALL_ROLLBACKS, IN_WINDOW
from harness.store.metrics import BANDS, Metrics
from harness.store.records import RootCause

Labels = tuple[tuple[str, str], ...]
Samples = Callable[["Metrics"], list[tuple[Labels, float | None]]]


@dataclass(frozen=True)
class _Family:
    name: str
    help: str
    unit: str | None
    samples: Samples


def _one(value: Callable[[Metrics], float | int | None]) -> Samples:
    return lambda m: [((), None if (v := value(m)) is None else float(v))]


def _both(value: Callable[[Any], float | int | None]) -> Samples:
    """One sample per population: in-window (from Metrics) and all rollbacks of the period."""
    def samples(m: Metrics) -> list[tuple[Labels, float | None]]:
        found: list[tuple[Labels, float | None]] = []
        for population, source in ((IN_WINDOW, m), (ALL_ROLLBACKS, m.all_rollbacks)):
            if source is not None:
                v = value(source)
                found.append(((("population", population.key),), None if v is None else float(v)))
        return found
    return samples


def _ratio(pct: float | None) -> float | None:
    return None if pct is None else pct / 100


def _hours_to_s(hours: float | None) -> float | None:
    return None if hours is None else hours * 3600


def _minutes_to_s(minutes: float | None) -> float | None:
    return None if minutes is None else minutes * 60


FAMILIES: tuple[_Family, ...] = (
    _Family("drill_deployments", "Deployments counted in the window.", None,
            _one(lambda m: m.deployments)),
    _Family("drill_rollbacks", "Unplanned rollbacks, per population (in_window: of the period's deployments "
            "within the window; all_rollbacks: decided in the period).", None, _both(lambda m: m.rollbacks)),
    _Family("drill_rollback_ratio", "Rolled-back deployments / deployments.", "ratio",
            _one(lambda m: _ratio(m.rollback_rate_pct))),
    _Family("drill_rollback_band", "1 for the standard's band of the rollback rate.", None,
            lambda m: [] if m.band is None else
            [((("band", band),), 1.0 if band == m.band else 0.0) for band in BANDS]),
    _Family("drill_mean_time_to_rollback_seconds", "Mean time from deployment to rollback decision, per population.",
            "seconds", _both(lambda m: _hours_to_s(m.mean_time_to_rollback_hours))),
    _Family("drill_mean_decision_to_completion_seconds",
            "Mean time from rollback decision to verified completion, per population.", "seconds",
            _both(lambda m: _minutes_to_s(m.mean_decision_to_completion_minutes))),
    _Family("drill_rollback_target_seconds", "Target for decision-to-completion.", "seconds",
            _one(lambda m: m.query.target_minutes * 60)),
    _Family("drill_within_target_ratio", "Share of rollbacks completed within the target, per population.",
            "ratio", _both(lambda m: _ratio(m.within_target_pct))),
    _Family("drill_automated_rollback_ratio", "Share of rollbacks triggered automatically, per population.",
            "ratio", _both(lambda m: _ratio(m.automated_rollback_rate_pct))),
    _Family("drill_repeat_rollback_ratio",
            "Models whose in-window rolled-back deployment directly followed another rolled-back one, "
            "over models with an in-window rollback.",
            "ratio", _one(lambda m: _ratio(m.repeat_rollback_rate_pct))),
    _Family("drill_planned_rollbacks", "Planned rollbacks of counted deployments.", None,
            _one(lambda m: m.planned_rollbacks)),
    _Family("drill_rollbacks_by_root_cause", "Unplanned rollbacks per root-cause class, per population.", None,
            lambda m: [((("population", p.key), ("root_cause", c.value)), float(src.root_causes.get(c.value, 0)))
                       for p, src in ((IN_WINDOW, m), (ALL_ROLLBACKS, m.all_rollbacks)) if src is not None
                       for c in RootCause]),
    _Family("drill_rca_coverage_ratio", "Share of rollbacks with a published root-cause analysis, per population.",
            "ratio", _both(lambda m: _ratio(m.rca_coverage_pct))),
)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _format_labels(labels: Labels) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in labels) + "}"


def _format_value(value: float) -> str:
    return str(int(value)) if value.is_integer() else repr(value)


def render(groups: Sequence[tuple[Labels, Metrics]]) -> str:
    """OpenMetrics text for metrics sets, each with its own extra labels; ends with # EOF."""
    lines: list[str] = []
    for family in FAMILIES:
        samples: list[str] = []
        for extra, metrics in groups:
            base: Labels = (("environment", metrics.query.environment),)
            if metrics.query.model is not None and not any(k == "model" for k, _ in extra):
                base += (("model", metrics.query.model),)
            for labels, value in family.samples(metrics):
                if value is not None:
                    samples.append(
                        f"{family.name}{_format_labels(base + extra + labels)} {_format_value(value)}")
        if not samples:
            continue
        lines.append(f"# HELP {family.name} {family.help}")
        lines.append(f"# TYPE {family.name} gauge")
        if family.unit:
            lines.append(f"# UNIT {family.name} {family.unit}")
        lines.extend(samples)
    lines.append("# EOF")
    return "\n".join(lines) + "\n"
