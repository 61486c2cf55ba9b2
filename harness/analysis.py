"""Canary analysis: threshold checks over Prometheus with failure and inconclusive limits
(as Argo Rollouts and Flagger do), a minimum-sample guard, and a Mann-Whitney U comparison of
baseline and canary samples (as Kayenta's judge) for client-side evidence.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from harness.events import now
from harness.ports import MetricsSource
from harness.results import Evidence
from harness.specs import CompareCheck, MetricCheck
from harness.stack.prometheus import PrometheusError
from harness.traffic import Sample


@dataclass(frozen=True)
class Judgement:
    verdict: str  # pass | fail | inconclusive
    evidence: tuple[Evidence, ...]

    @property
    def breached(self) -> bool:
        return any(e.breached for e in self.evidence)


def judge_check(prom: MetricsSource, check: MetricCheck) -> Evidence:
    try:
        value = prom.query(check.query)
        samples = prom.query(check.samples_query) if check.samples_query else None
        baseline = prom.query(check.baseline_query) if check.baseline_query else None
    except PrometheusError:
        value = samples = baseline = None
    if value is None or (samples is not None and samples < check.min_samples):
        verdict = "inconclusive"
    elif value > check.failure_above:
        verdict = "fail"
    elif check.inconclusive_above is not None and value > check.inconclusive_above:
        verdict = "inconclusive"
    else:
        verdict = "pass"
    effect = value - baseline if value is not None and baseline is not None else None
    return Evidence(check.name, check.query, verdict, value, check.failure_above, samples, check.min_samples,
                    baseline_value=baseline, effect_size=effect, at=now())


MEASURES: dict[str, Callable[[Sample], float]] = {
    "latency": lambda s: s.latency_s,
    "error": lambda s: 0.0 if s.ok else 1.0,
    "incorrect": lambda s: 0.0 if s.correct else 1.0,
}


def compare_check(check: CompareCheck, baseline: Sequence[Sample], canary: Sequence[Sample]) -> Evidence:
    """Is the canary worse than the baseline on client-side samples? One-sided Mann-Whitney U."""
    if check.measure == "incorrect":  # correctness is only known for answered requests
        baseline = [s for s in baseline if s.ok]
        canary = [s for s in canary if s.ok]
    measure = MEASURES[check.measure]
    b = [measure(s) for s in baseline]
    c = [measure(s) for s in canary]
    mw = mann_whitney(b, c)
    mean_b = sum(b) / len(b) if b else None
    mean_c = sum(c) / len(c) if c else None
    if mw is None or len(c) < check.min_samples or len(b) < check.min_samples:
        verdict = "inconclusive"
    elif mw.p_value < check.alpha and mw.effect_size >= check.min_effect:
        verdict = "fail"
    else:
        verdict = "pass"
    return Evidence(check.name, f"client:{check.measure}", verdict, mean_c, check.alpha, float(len(c)), check.min_samples,
                    baseline_value=mean_b, effect_size=mw.effect_size if mw else None,
                    confidence=1 - mw.p_value if mw else None, at=now(), kind="compare")


def judge(prom: MetricsSource, checks: Sequence[MetricCheck], compares: Sequence[CompareCheck] = (),
          baseline: Sequence[Sample] = (), canary: Sequence[Sample] = ()) -> Judgement:
    evidence = tuple(judge_check(prom, c) for c in checks) + tuple(compare_check(c, baseline, canary) for c in compares)
    verdicts = {e.verdict for e in evidence}
    overall = "fail" if "fail" in verdicts else "inconclusive" if "inconclusive" in verdicts else "pass"
    return Judgement(overall, evidence)


@dataclass(frozen=True)
class MannWhitney:
    u: float
    z: float
    p_value: float  # one-sided: canary stochastically greater than baseline
    effect_size: float  # common-language effect size P(canary > baseline)


def mann_whitney(baseline: Sequence[float], canary: Sequence[float]) -> MannWhitney | None:
    """Mann-Whitney U with the normal approximation and tie correction; None under 8 samples a side."""
    n1, n2 = len(baseline), len(canary)
    if n1 < 8 or n2 < 8:
        return None
    pooled = sorted([(v, 0) for v in baseline] + [(v, 1) for v in canary])
    ranks = [0.0] * len(pooled)
    ties = 0.0
    i = 0
    while i < len(pooled):
        j = i
        while j + 1 < len(pooled) and pooled[j + 1][0] == pooled[i][0]:
            j += 1
        rank = (i + j) / 2 + 1
        for k in range(i, j + 1):
            ranks[k] = rank
        t = j - i + 1
        ties += t**3 - t
        i = j + 1
    r2 = sum(r for r, (_, g) in zip(ranks, pooled) if g == 1)
    u2 = r2 - n2 * (n2 + 1) / 2
    mean = n1 * n2 / 2
    n = n1 + n2
    var = n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1)))
    z = (u2 - mean) / math.sqrt(var) if var > 0 else 0.0
    p = 0.5 * math.erfc(z / math.sqrt(2))
    return MannWhitney(u2, z, p, u2 / (n1 * n2))
