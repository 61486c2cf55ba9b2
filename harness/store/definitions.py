"""What every rollback figure counts: one table, read by the CLI, the JSON, the summary report and the docs.

Each figure names its *population* (which rollbacks it is taken over), its numerator, its denominator and
its window. The labels `drill metrics` and `drill report` print are ``Figure.label`` plus the population's
short name, and the store page's definitions table is ``definitions_markdown()`` (the MkDocs hook puts it
where docs/store.md says ``<!-- figure-definitions -->``), so the page cannot drift from the output.
"""

from __future__ import annotations

from dataclasses import dataclass

DOCS_MARKER = "<!-- figure-definitions -->"


@dataclass(frozen=True)
class Population:
    key: str  # as in the JSON: "in_window", "all_rollbacks", "six_months"
    short: str  # the column or label suffix people read
    meaning: str


IN_WINDOW = Population(
    "in_window", "in-window rollbacks",
    "for each production deployment in [since, until), its earliest unplanned rollback decided within the "
    "window (default 7 days) after it; a rollback belongs to the latest deployment of its version at or "
    "before its decision")
ALL_ROLLBACKS = Population(
    "all_rollbacks", "all unplanned rollbacks in the period",
    "every unplanned production rollback decided in [since, until), however long after its deployment "
    "(a business-rule rollback 10 days in counts here, not in the rate)")
SIX_MONTHS = Population(
    "six_months", "rollbacks of the last six months",
    "every unplanned production rollback decided in the six calendar months ending at `until` (or now)")
POPULATIONS = (IN_WINDOW, ALL_ROLLBACKS, SIX_MONTHS)

BAND_EDGES = (
    ("excellent", "rate < 5 %"),
    ("acceptable", "5 % <= rate <= 10 %"),
    ("concerning", "10 % < rate <= 20 %"),
    ("high-risk", "rate > 20 %"),
)


@dataclass(frozen=True)
class Figure:
    key: str  # the JSON key (inside the population's object for all_rollbacks)
    label: str
    populations: tuple[Population, ...]
    numerator: str
    denominator: str

    def label_for(self, population: Population) -> str:
        return f"{self.label} ({population.short})"


FIGURES: dict[str, Figure] = {f.key: f for f in (
    Figure("deployments", "Deployments", (IN_WINDOW,),
           "production deployments with deployed_at in [since, until)", "—"),
    Figure("rollbacks", "Rolled back (unplanned)", (IN_WINDOW, ALL_ROLLBACKS),
           "rollbacks of the population", "—"),
    Figure("rollback_rate_pct", "Rollback rate", (IN_WINDOW,),
           "deployments with an in-window unplanned rollback", "deployments"),
    Figure("band", "Band", (IN_WINDOW,), "the rollback rate against the edges below", "—"),
    Figure("mean_time_to_rollback_hours", "Mean time to rollback (deploy → decision)",
           (IN_WINDOW, ALL_ROLLBACKS),
           "sum of decided_at − deployed_at (the deployment the rollback belongs to)",
           "rollbacks of the population that have a recorded deployment"),
    Figure("mean_decision_to_completion_minutes", "Mean decision → completion", (IN_WINDOW, ALL_ROLLBACKS),
           "sum of completed_at − decided_at", "rollbacks of the population"),
    Figure("within_target_pct", "Within the target", (IN_WINDOW, ALL_ROLLBACKS),
           "rollbacks with completed_at − decided_at <= the target (15 min by default, inclusive)",
           "rollbacks of the population"),
    Figure("automated_rollback_rate_pct", "Automated rollbacks", (IN_WINDOW, ALL_ROLLBACKS),
           "rollbacks with trigger automated", "rollbacks of the population"),
    Figure("repeat_rollback_rate_pct", "Repeat rollbacks (share of models)", (IN_WINDOW,),
           "models with an in-window rolled-back deployment whose previous deployment of the same model was "
           "also rolled back in-window", "models with at least one in-window rollback"),
    Figure("planned_rollbacks", "Planned rollbacks (never in the rate)", (IN_WINDOW, ALL_ROLLBACKS),
           "planned rollbacks (of the period's deployments; of the period)", "—"),
    Figure("root_causes", "Root causes", (IN_WINDOW, ALL_ROLLBACKS),
           "rollbacks of the population per root-cause class", "—"),
    Figure("rca_coverage_pct", "RCA coverage", (IN_WINDOW, ALL_ROLLBACKS, SIX_MONTHS),
           "rollbacks of the population with a published root-cause analysis (rca_url)",
           "rollbacks of the population"),
    Figure("repeated_cause_keys", "Rollbacks whose cause key an earlier post-mortem had named", (ALL_ROLLBACKS,),
           "rollbacks decided in the period carrying a cause key that an earlier rollback (any model, same "
           "environment) already carried", "—"),
)}


def label(key: str, population: Population | None = None) -> str:
    """The printed label of a figure, with its population named when one is given."""
    figure = FIGURES[key]
    return figure.label if population is None else figure.label_for(population)


def definitions_markdown() -> str:
    """The store page's section: populations, every figure, the band edges."""
    lines = ["| population | what it holds |", "|---|---|"]
    lines += [f"| {p.short} (`{p.key}`) | {p.meaning} |" for p in POPULATIONS]
    lines += ["", "| figure (JSON key) | populations | numerator | denominator |", "|---|---|---|---|"]
    for f in FIGURES.values():
        pops = ", ".join(p.short for p in f.populations)
        lines.append(f"| {f.label} (`{f.key}`) | {pops} | {f.numerator} | {f.denominator} |")
    lines += ["", "| band | edges |", "|---|---|"]
    lines += [f"| {band} | {edge} |" for band, edge in BAND_EDGES]
    return "\n".join(lines) + "\n"
