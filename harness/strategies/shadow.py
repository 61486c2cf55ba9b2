"""A shadow stage: the stable serves every client, the candidate gets copies through the tee, the paired
judge decides. The candidate is started but never attached to the router, so no client can be answered
by it; a regression caught here is caught before anyone saw the candidate.

The stage drives a target only through seams: the backend starts the candidate (and, where it can, a
second stable instance: the noise floor for unlabelled traffic), the router points its stable slot at the
tee and back, and a ``TeeRunner`` starts the tee (``harness.stack.tee.TeeContainer`` on Docker; an
in-process ``harness.serving.tee_proxy.Tee`` in a unit test). The records come back through 127.0.0.1
(``harness.judge.tee_records``). Not yet registered as a strategy kind: the strategy registry (issue 16)
is where ``kind: shadow`` and chained stages (``shadow -> canary 10% -> promote``) plug in.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from harness.engine.events import now
from harness.engine.results import Evidence
from harness.judge.paired import PairedJudge, PairedOutcome
from harness.judge.tee_records import TeeReader, examples_by_digest
from harness.ports import Backend, Endpoint, Example, Router, ServingProtocol
from harness.stack.tee import tee_env

LABELLED_MEASURES = ("error", "latency", "incorrect")


class TeeRunner(Protocol):
    def start(self, env: dict[str, str]) -> tuple[Endpoint, Endpoint]:
        """Start the tee; (where the router sends the stable slot, the records endpoint on 127.0.0.1)."""
        ...

    def stop(self) -> None: ...


@dataclass(frozen=True)
class ShadowTraffic:
    """report.json's ``traffic.shadow``: requests copied, pairs judged, candidate answers any client got."""

    mirrored: int
    paired: int
    candidate_answers_served: int
    dropped: int = 0

    def as_json(self) -> dict[str, int]:
        return {"mirrored": self.mirrored, "paired": self.paired,
                "candidate_answers_served": self.candidate_answers_served, "dropped": self.dropped}


@dataclass(frozen=True)
class ShadowOutcome:
    decision: str  # rollback: a check crossed 1/alpha; promote: none did within max_wait
    decided_after_s: float  # since the first copy could reach the candidate (the tee in the route)
    outcomes: tuple[PairedOutcome, ...]
    traffic: ShadowTraffic
    setup_s: float = 0.0  # starting the candidate and the tee, and routing the stable slot through it
    mirroring_since: datetime | None = None
    decided_at: datetime | None = None  # the look that decided (before the route is restored and the tee goes)

    @property
    def never_served(self) -> bool:
        return self.traffic.candidate_answers_served == 0

    @property
    def summary(self) -> str:
        if self.decision == "rollback":
            failed = ", ".join(o.measure for o in self.outcomes if o.rejected)
            where = "caught in shadow: no client saw the candidate" if self.never_served else "caught in shadow"
            return f"{where} ({failed}) after {self.decided_after_s:.1f} s and {self.traffic.paired} pairs"
        return f"no paired check crossed 1/alpha in {self.decided_after_s:.1f} s ({self.traffic.paired} pairs)"


def to_evidence(out: PairedOutcome) -> Evidence:
    """A paired check as drill evidence (kind sequential: e-value against 1/alpha, effect with its confidence sequence)."""
    c = out.counts
    return Evidence(f"shadow-{out.measure}", f"paired:{out.measure}", out.verdict, out.candidate_rate, out.threshold,
                    float(c.pairs), 0, baseline_value=out.reference_rate, effect_size=out.effect,
                    confidence=1 - min(1.0, 1 / out.e_value) if out.e_value > 0 else 0.0, at=now(), kind="sequential",
                    e_value=out.e_value, lower=out.lower, upper=out.upper, baseline_source="the stable on the same requests")


@dataclass
class ShadowStage:
    backend: Backend
    router: Router
    protocol: ServingProtocol
    tee: TeeRunner
    examples: Sequence[Example]  # what the load generator sends: the labels of the mirrored requests
    alpha: float = 0.01
    measures: Sequence[str] = LABELLED_MEASURES
    secondary: bool = False  # start a second stable instance (needs a backend with a "secondary" slot)
    drain_s: float = 1.0  # after the route is back: requests the router still has in flight through the tee finish
    sleep: Callable[[float], None] = time.sleep
    looks: list[tuple[float, tuple[PairedOutcome, ...]]] = field(default_factory=list)

    def run(self, stable_version: str, candidate_version: str, max_wait: float, interval: float,
            served_by_candidate: Callable[[], int]) -> ShadowOutcome:
        stable = self.backend.address("stable")
        if stable is None:
            raise RuntimeError("the stable slot is not running: nothing to shadow")
        candidate = self.backend.start("candidate", candidate_version)  # never attached: it serves no client
        secondary = self.backend.start("secondary", stable_version) if self.secondary else None
        judge = PairedJudge(self.alpha, self.measures)
        reader: TeeReader | None = None
        started = mirroring = time.monotonic()
        since: datetime | None = None
        decided_at: datetime | None = None
        decision = "promote"
        try:
            routed, records = self.tee.start(tee_env(stable, candidate, secondary, self.protocol.path))
            self.router.attach("stable", routed)
            mirroring, since = time.monotonic(), now()
            reader = TeeReader(records, self.protocol, examples_by_digest(self.examples))
            while time.monotonic() - mirroring < max_wait:
                self.sleep(interval)
                judge.extend(reader.poll())
                self.looks.append((time.monotonic() - mirroring, judge.look(with_cs=False)))
                if judge.rejected():
                    decision, decided_at = "rollback", now()
                    break
        finally:
            self.router.attach("stable", stable)  # clients straight to the stable again, tee or no tee
            self.sleep(self.drain_s)
            self.tee.stop()
            if secondary is not None:
                self.backend.stop("secondary")
            if decision == "rollback":
                self.backend.stop("candidate")
        traffic = ShadowTraffic(reader.mirrored if reader else 0, judge.records - judge.dropped, served_by_candidate(),
                                sum(reader.dropped.values()) if reader else 0)
        decided_after = (decided_at - since).total_seconds() if decided_at and since else time.monotonic() - mirroring
        return ShadowOutcome(decision, round(decided_after, 2), judge.look(), traffic, round(mirroring - started, 2), since,
                             decided_at or now())
