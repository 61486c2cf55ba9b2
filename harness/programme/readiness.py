"""Rollback readiness: one figure per model, with its parts shown, and the gate a deploy pipeline asks.

    drill gate --model fraud --min-score 70      # exit 1 below the score, with a stale runbook, or when
                                                 # the model's latest drill did not end as expected

The score (0-100) is the weighted mean of the parts that apply to the model; each part is a credit 0-1:

- freshness (25): per runbook the model's drills use, 0 when stale, else the decay of its last as-expected drill;
- root_causes (20): per class of the standard (performance, safety, infrastructure, upstream-data,
  business-rule), the decay of the model's latest as-expected drill of that class;
- adversity (15): per adversity kind the model's drills declare, the decay of the latest as-expected run of a
  drill declaring it (n/a when none declares one);
- decision_to_completion (15): the share of the model's as-expected drilled rollbacks of the last quarter
  within the target (15 min);
- prior_versions (15): the decay of the latest as-expected run whose `registry.check_prior_versions` passed;
- rca_coverage (10): the share of the model's unplanned production rollbacks of the last six months with an
  RCA (n/a when there were none).

Like Gremlin's reliability score, evidence fades with age: a drill counts fully for the first half of its
horizon (the runbook's `freshness:`, or a quarter, 90 days), then linearly less, and nothing at its end.
The gate's default minimum is `DEFAULT_MIN_SCORE`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from harness.errors import SpecError, SpecIssue
from harness.outcomes import RootCause
from harness.programme.freshness import Freshness, ProjectDrill, StatusReport
from harness.store import DrillRunRecord, MetricsQuery, Store

QUARTER_DAYS = 90
DEFAULT_MIN_SCORE = 70.0
PRIOR_VERSIONS_ACTION = "registry.check_prior_versions"
CLASSES = tuple(c.value for c in RootCause if c is not RootCause.OTHER)
WEIGHTS = {"freshness": 25, "root_causes": 20, "adversity": 15, "decision_to_completion": 15,
           "prior_versions": 15, "rca_coverage": 10}


def decay(age_days: float | None, horizon_days: float) -> float:
    """1 for the first half of the horizon, then linearly to 0 at its end; 0 with no evidence at all."""
    if age_days is None or age_days > horizon_days:
        return 0.0
    half = horizon_days / 2
    return 1.0 if age_days <= half else max(0.0, (horizon_days - age_days) / half)


@dataclass(frozen=True)
class Part:
    name: str
    weight: int
    credit: float | None  # None: does not apply to this model (left out of the mean)
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "weight": self.weight,
                "credit": None if self.credit is None else round(self.credit, 4), "detail": self.detail}


@dataclass(frozen=True)
class Readiness:
    model: str
    parts: tuple[Part, ...]
    blockers: tuple[str, ...]  # what makes the gate say no whatever the score

    @property
    def score(self) -> float:
        counted = [p for p in self.parts if p.credit is not None]
        total = sum(p.weight for p in counted)
        return 0.0 if total == 0 else round(100 * sum(p.weight * (p.credit or 0.0) for p in counted) / total, 1)

    def passes(self, min_score: float = DEFAULT_MIN_SCORE) -> bool:
        return not self.reasons(min_score)

    def reasons(self, min_score: float = DEFAULT_MIN_SCORE) -> list[str]:
        """Why `drill gate` says no (empty: it says yes)."""
        low = [] if self.score >= min_score else [f"score {self.score:g} is below {min_score:g}"]
        return [*self.blockers, *low]

    def to_json(self) -> dict[str, Any]:
        return {"model": self.model, "score": self.score, "parts": [p.to_json() for p in self.parts],
                "blockers": list(self.blockers)}


def _age(now: datetime, run: DrillRunRecord | None) -> float | None:
    return None if run is None else max(0.0, (now - run.started_at).total_seconds() / 86400)


def _latest(runs: Sequence[DrillRunRecord]) -> DrillRunRecord | None:
    return max(runs, key=lambda r: r.started_at, default=None)


def _freshness(rows: Sequence[Freshness], now: datetime) -> Part:
    if not rows:
        return Part("freshness", WEIGHTS["freshness"], 0.0, "no runbook of the project drills this model")
    credits = [0.0 if r.stale or r.last_as_expected is None else
               decay((now - r.last_as_expected.started_at).total_seconds() / 86400, r.freshness_days) for r in rows]
    stale = [r.name for r in rows if r.stale]
    return Part("freshness", WEIGHTS["freshness"], sum(credits) / len(credits),
                f"{len(rows) - len(stale)} of {len(rows)} runbooks fresh" + (f" (stale: {', '.join(stale)})"
                                                                            if stale else ""))


def _classes(good: Sequence[DrillRunRecord], now: datetime) -> Part:
    ages = {c: _age(now, _latest([r for r in good if r.root_cause == c])) for c in CLASSES}
    drilled = [c for c, age in ages.items() if age is not None]
    missing = [c for c in CLASSES if c not in drilled]
    return Part("root_causes", WEIGHTS["root_causes"],
                sum(decay(a, QUARTER_DAYS) for a in ages.values()) / len(CLASSES),
                f"{len(drilled)} of {len(CLASSES)} classes drilled as expected in the last quarter"
                + (f" (missing: {', '.join(missing)})" if missing else ""))


def _adversity(drills: Sequence[ProjectDrill], good: Sequence[DrillRunRecord], now: datetime) -> Part:
    kinds = sorted({kind for d in drills for kind in d.adversity})
    if not kinds:
        return Part("adversity", WEIGHTS["adversity"], None, "no drill of this model declares adversity")
    by_kind = {k: _latest([r for r in good if any(d.name == r.drill and k in d.adversity for d in drills)])
               for k in kinds}
    missing = [k for k, run in by_kind.items() if run is None]
    return Part("adversity", WEIGHTS["adversity"],
                sum(decay(_age(now, run), QUARTER_DAYS) for run in by_kind.values()) / len(kinds),
                f"{len(kinds) - len(missing)} of {len(kinds)} adversity kinds drilled as expected"
                + (f" (missing: {', '.join(missing)})" if missing else ""))


def _completion(good: Sequence[DrillRunRecord], target_s: float) -> Part:
    timed = [r.decision_to_completion_s for r in good if r.rolled_back and r.decision_to_completion_s is not None]
    within = sum(t <= target_s for t in timed)
    return Part("decision_to_completion", WEIGHTS["decision_to_completion"],
                within / len(timed) if timed else 0.0,
                f"{within} of {len(timed)} drilled rollbacks within {target_s / 60:g} min" if timed
                else "no drilled rollback in the last quarter")


def _prior_versions(good: Sequence[DrillRunRecord], now: datetime) -> Part:
    checked = _latest([r for r in good if any(s.action == PRIOR_VERSIONS_ACTION and s.status == "passed"
                                              for s in r.steps)])
    return Part("prior_versions", WEIGHTS["prior_versions"], decay(_age(now, checked), QUARTER_DAYS),
                f"prior versions last proven deployable by {checked.run_id}" if checked
                else f"no as-expected drill ran {PRIOR_VERSIONS_ACTION} in the last quarter")


def _rca(store: Store, model: str, now: datetime) -> Part:
    signals = store.postmortem_signals(MetricsQuery(model=model), now=now)
    pct = signals.rca_coverage_six_months_pct
    return Part("rca_coverage", WEIGHTS["rca_coverage"], None if pct is None else pct / 100,
                "no production rollback in six months" if pct is None
                else f"{signals.with_rca_six_months} of {signals.rollbacks_six_months} rollbacks of six months "
                     "with an RCA")


def readiness(store: Store, report: StatusReport, drills: Sequence[ProjectDrill], now: datetime | None = None,
              target_minutes: float = 15.0) -> list[Readiness]:
    """One Readiness per model the project drills or the store has drill runs of, by name."""
    at = now or report.generated_at
    runs = store.list_drill_runs(since=at - timedelta(days=QUARTER_DAYS))
    models = sorted({d.model for d in drills} | {m.name for m in report.models})
    out = []
    for model in models:
        mine = [d for d in drills if d.model == model]
        runbooks = sorted({d.runbook for d in mine})
        rows = [r for r in report.runbooks if r.name in runbooks]
        good = [r for r in runs if r.model == model and r.as_expected and r.started_at <= at]
        stale = [f"{r.name} ({'; '.join(r.reasons)})" for r in rows if r.stale]
        blockers = [f"stale runbook{'s' if len(stale) > 1 else ''}: {', '.join(stale)}"] if stale else []
        latest = next((m for m in report.models if m.name == model), None)
        if latest is None or latest.last is None:
            blockers.append("never drilled")
        elif latest.last.as_expected is not True:
            blockers.append(f"its latest drill {latest.last.run_id} did not end as expected ({latest.last.status})")
        parts = (_freshness(rows, at), _classes(good, at), _adversity(mine, good, at),
                 _completion(good, target_minutes * 60), _prior_versions(good, at), _rca(store, model, at))
        out.append(Readiness(model, parts, tuple(blockers)))
    return out


def of_model(items: Sequence[Readiness], model: str) -> Readiness:
    """The model's readiness; SpecError (exit 2) when neither the project's drills nor the store name it."""
    found = next((item for item in items if item.model == model), None)
    if found is None:
        raise SpecError(SpecIssue("--model", "model",
                                  f"no drill of the project and no drill run in the store is of model {model!r}"))
    return found
