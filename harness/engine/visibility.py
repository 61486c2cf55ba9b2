"""Checks that cannot silently look at nothing: at the end of the baseline, each check shows it can see.

A check whose input never appears judges nothing, and a drill built on it would pass (a control promoted,
a rollback "missed") having checked nothing; Chaos Toolkit's steady-state hypothesis fails the same way
before the experiment. So, on the stable version's baseline answers, before anything is deployed:

- the version: some answer must name the stable version (a ``version`` header or JSON field that is missing,
  or names versions another way, would leave the candidate's answers unrecognised);
- ``incorrect``: some labelled answer must carry a prediction (a ``prediction_field`` that never resolved),
  and some must match its label (labels compare as JSON values: ``"1"`` is not ``1``);
- ``out_of_range``: some answer must carry a score; ``forbidden``: some protected request must be answered
  with a prediction; ``latency``: some request must be answered at all;
- a PromQL check: every metric its queries name must have a series in Prometheus (a ``metrics_path`` on the
  wrong port scrapes nothing). This one is asked when the detection window ran out undecided (``unseen_metrics``).

Each problem names the check and what it saw; the engine ends the run ``error`` (before any deploy for the
client-side checks).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence

from harness.errors import DrillError
from harness.ports import Example, MetricsSource, PrometheusError
from harness.spec.models import CompareCheck, MetricCheck
from harness.traffic.generator import Sample

# A metric name right before a label selector or a range: ``haproxy_server_http_responses_total{`` or ``x[10s]``.
_SELECTED = re.compile(r"([A-Za-z_:][A-Za-z0-9_:]*)\s*[{\[]")
_NOT_METRICS = {"by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool"}
PAIRED_ONLY = ("disagreement",)  # judged on the candidate's copies against a second stable: nothing to see yet


class CheckCannotSee(DrillError):
    """A check that would judge nothing: an error of the run (the harness could not tell), before any deploy."""


def _kinds(values: Sequence[object]) -> str:
    shown = sorted({f"{v!r} ({type(v).__name__})" for v in values[:200]})[:3]
    return ", ".join(shown) or "none"


def version_problem(answered: Sequence[Sample], stable: str) -> str | None:
    if not answered or any(s.version == stable for s in answered):
        return None
    seen = sorted({str(s.version) for s in answered})[:3]
    return (f"version: no baseline answer named the stable version {stable!r} (saw {', '.join(seen)}): the version "
            "header or field is missing or names versions another way, so the candidate's answers would go unseen")


def compare_problem(check: CompareCheck, base: Sequence[Sample], examples: Sequence[Example]) -> str | None:
    """What a client-side check cannot see on the stable's baseline answers (None: it can see)."""
    answered = [s for s in base if s.ok]
    where = f"compare check {check.name!r} ({check.measure})"
    if check.measure in ("error", *PAIRED_ONLY):
        return None
    if not answered:
        return f"{where}: no request was answered during the baseline ({len(base)} sent)"
    if check.measure == "incorrect":
        labelled = [s for s in answered if s.correct is not None]
        if not labelled:
            return f"{where}: no answer could be judged right or wrong (no labelled request, or no prediction read)"
        if all(s.prediction is None for s in labelled):
            return (f"{where}: the prediction field never resolved on any of {len(labelled)} labelled stable answers "
                    "(a dotted path such as outputs.0.data.0; list indices are numbers)")
        if not any(s.correct for s in labelled):
            labels = [ex.expected for ex in examples if ex.expected is not None]
            return (f"{where}: no label matched any of {len(labelled)} stable answers (labels compare as JSON "
                    f"values): answers like {_kinds([s.prediction for s in labelled])}, labels like {_kinds(labels)}")
    if check.measure == "out_of_range" and all(s.score is None for s in answered):
        return f"{where}: no answer carried a score ({len(answered)} stable answers)"
    if check.measure == "forbidden" and not any(s.protected and s.prediction is not None for s in answered):
        return f"{where}: no protected request was answered with a prediction ({len(answered)} stable answers)"
    return None


def metric_problems(check: MetricCheck, prom: MetricsSource, wait_s: float = 5.0,
                    sleep: Callable[[float], None] = time.sleep) -> list[str]:
    """Every metric the check's queries name must have a series (waited for up to ``wait_s``: the first scrapes)."""
    queries = " ".join(q for q in (check.query, check.samples_query, check.baseline_query) if q)
    missing = list(dict.fromkeys(n for n in _SELECTED.findall(queries) if n not in _NOT_METRICS))
    deadline = time.monotonic() + wait_s
    while True:
        try:
            missing = [n for n in missing if not prom.query(f'count({{__name__="{n}"}})')]
        except PrometheusError as exc:
            return [f"metrics check {check.name!r}: Prometheus did not answer ({exc})"]
        if not missing:
            return []
        if time.monotonic() >= deadline:
            return [f"metrics check {check.name!r}: no series of {', '.join(missing)} in Prometheus (nothing scraped "
                    "it: is the server's metrics_path right, on the port the drill scrapes?)"]
        sleep(0.5)


def problems(base: Sequence[Sample], stable: str, compares: Sequence[CompareCheck],
             examples: Sequence[Example]) -> list[str]:
    """Every client-side check that cannot see, on the baseline window's samples (an empty list: all can)."""
    found = [version_problem([s for s in base if s.ok], stable)]
    found += [compare_problem(c, base, examples) for c in compares]
    return [p for p in found if p is not None]


def unseen_metrics(metrics: Sequence[MetricCheck], prom: MetricsSource) -> list[str]:
    """PromQL checks whose metrics have no series now. Asked when a detection window ran out undecided, not at
    the baseline's end: Prometheus's first scrape of a stack can come seconds later, and a check without data is
    inconclusive at every look meanwhile (never a pass), so waiting for it before the deploy would only cost time."""
    return [p for m in metrics for p in metric_problems(m, prom, wait_s=0)]
