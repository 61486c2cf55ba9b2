"""What one run learns as it goes (phases, timestamps, the decision, evidence, steps); frozen into a
``DrillResult`` at the end. Strategies and the engine write it; nothing else does."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import MappingProxyType

from harness.engine.events import now
from harness.engine.human import HumanInput
from harness.engine.results import Evidence, EvidencePoint, PhaseResult, StageResult, StepResult
from harness.errors import SpecError, SpecIssue
from harness.outcomes import DecidedBy, Decision, Trigger
from harness.ports import Versions
from harness.spec.catalogue import LoadedDrill
from harness.spec.models import ProfileSpec


@dataclass
class RunState:
    started_at: datetime
    phases: list[PhaseResult] = field(default_factory=list)
    versions: Versions | None = None
    deployed_at: datetime | None = None
    first_breach_at: datetime | None = None
    decision_at: datetime | None = None
    rollback_started_at: datetime | None = None
    completed_at: datetime | None = None
    decision: Decision | None = None
    trigger: Trigger | None = None
    alerted_at: datetime | None = None  # a person was alerted and asked to decide
    decided_by: DecidedBy | None = None  # a person, an answers file, or automation
    decider: str | None = None  # the person's name, where known
    evidence: tuple[Evidence, ...] = ()
    trace: list[EvidencePoint] = field(default_factory=list)  # every look at every check, for reports
    steps: tuple[StepResult, ...] = ()
    serving_after: str | None = None
    images_source: str | None = None
    baseline_error_rate: float = 0.0
    baseline_window: tuple[float, float] | None = None  # epoch seconds of the pre-deploy baseline
    failure: str | None = None  # why a rollback/promotion did not complete
    held_weight: int | None = None  # a person held: the candidate's traffic share left as it was
    promoted_at: datetime | None = None  # when the candidate took all the traffic (a bake watches from then)
    caught_in_bake: bool = False  # a regression found after the promotion, during the drill's bake:
    shadow: dict[str, int] | None = None  # a shadow stage's traffic (report.json traffic.shadow)
    stages: tuple[StageResult, ...] = ()  # a staged strategy's stages, as far as they ran (report.json stages)
    torn_down: bool = False
    reads_before_sabotage: int | None = None  # the registry's read log length when the sabotage was made
    sabotage_reached: bool | None = None

    @property
    def caught_in(self) -> StageResult | None:
        """The stage whose judge caught the candidate (None: no stage did, or the strategy has none)."""
        return next((s for s in self.stages if s.caught), None)

    def decide(self, decision: Decision, trigger: Trigger | None, breach: bool = False) -> None:
        """Record the decision now (and the first breach, if none was seen before and ``breach``)."""
        self.decision_at = now()
        if breach and self.first_breach_at is None:
            self.first_breach_at = self.decision_at
        self.decision, self.trigger = decision, trigger
        self.decided_by = DecidedBy.AUTOMATION if trigger is Trigger.AUTOMATED else self.decided_by


@dataclass(frozen=True)
class RunOptions:
    profile: str = "ci"
    report_root: Path = Path("reports")
    manual: bool = False
    human: HumanInput | None = None
    run_id: str | None = None
    backend: str | None = None  # None: the drill's own choice (docker unless it says otherwise)
    variables: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))  # --var KEY=VALUE


def resolve_profile(drill: LoadedDrill, name: str, manual: bool = False) -> ProfileSpec:
    """The drill's profile by name (SpecError if it has none such); --manual makes the decision a person's."""
    profiles = drill.spec.profiles
    if name not in profiles:
        raise SpecError(SpecIssue(str(drill.drill_path), "profiles", f"no profile {name!r}; known: {', '.join(profiles)}"))
    return profiles[name].model_copy(update={"decision": "manual"}) if manual else profiles[name]


def new_run_id(drill: str) -> str:
    return f"{now().strftime('%Y%m%dT%H%M%SZ')}-{drill}-{secrets.token_hex(3)}"
