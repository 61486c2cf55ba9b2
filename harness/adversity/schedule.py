"""The scheduler: an engine listener that strikes each fault at its moment and always undoes it.

Moments come from events the engine already emits: ``Decided`` (``at: decision``), ``PhaseStarted``
of the rollback (``at: rollback``) and ``StepStarted`` of a runbook step once the rollback is decided
(``at: step:<name>``). A fault is struck synchronously in the engine's thread, so the step it is timed
at starts with the fault in force; a timer ends it after ``for``. ``stop_all`` (the engine's ``finally``,
also on Ctrl-C) cancels the timers and undoes every fault still active, whatever happened before.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from harness.adversity.base import AbsorbedBy, AdversityRecord, Fault, FaultContext, build
from harness.adversity.spec import AdversitySpec
from harness.engine.events import Decided, Event, PhaseStarted, StepStarted, now
from harness.engine.results import StepResult

log = logging.getLogger(__name__)
Builder = Callable[[AdversitySpec, FaultContext], Fault]


@dataclass
class _Slot:
    """One scheduled fault and what became of it."""

    spec: AdversitySpec
    fault: Fault | None = None
    struck_at: datetime | None = None
    ended_at: datetime | None = None
    error: str | None = None
    timer: threading.Timer | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


class Scheduler:
    def __init__(self, faults: Sequence[AdversitySpec], note: Callable[[str], None] = lambda m: None,
                 builder: Builder = build) -> None:
        self._slots = [_Slot(spec) for spec in faults]
        self._note = note
        self._builder = builder
        self._ctx: FaultContext | None = None
        self._armed = False  # step moments count only once a rollback was decided (not pre-flight steps)
        self._closed = False

    def bind(self, target: Any, run_id: str) -> None:
        """The run's target, once prepared: faults reach its parts through it."""
        self._ctx = FaultContext(target, run_id, self._note)

    # ---- the listener -----------------------------------------------------------------------
    def on_event(self, event: Event) -> None:
        if isinstance(event, Decided):
            if event.decision != "rollback":
                return
            self._armed = True
            self._strike("decision")
        elif isinstance(event, PhaseStarted) and event.phase == "rollback":
            self._armed = True
            self._strike("rollback")
        elif isinstance(event, StepStarted) and self._armed:
            self._strike(f"step:{event.name}")

    def _strike(self, moment: str) -> None:
        for slot in self._slots:
            if self._closed or slot.struck_at is not None or slot.error is not None:
                continue
            at = slot.spec.at if not slot.spec.at.startswith("step:") else f"step:{slot.spec.step}"
            if at == moment:
                self._start(slot)

    def _start(self, slot: _Slot) -> None:
        with slot.lock:
            if self._ctx is None:
                slot.error = "struck before the target was prepared"
                return
            try:
                slot.fault = self._builder(slot.spec, self._ctx)
                slot.struck_at = now()
                slot.fault.start()
            except Exception as exc:  # a fault that cannot strike is recorded; the run goes on, and it is undone
                slot.error = f"could not strike: {type(exc).__name__}: {exc}"
                log.warning("adversity %s: %s", slot.spec.label, slot.error)
                self._stop_locked(slot)
                return
            self._note(f"adversity {slot.spec.kind} struck ({slot.fault.target}) for {slot.spec.for_:g}s")
            slot.timer = threading.Timer(slot.spec.for_, self._expire, args=(slot,))
            slot.timer.daemon = True
            slot.timer.start()

    def _expire(self, slot: _Slot) -> None:
        with slot.lock:
            self._stop_locked(slot)
        if slot.fault is not None:
            self._note(f"adversity {slot.spec.kind} ended ({slot.fault.target})")

    def _stop_locked(self, slot: _Slot) -> None:
        if slot.fault is None or slot.ended_at is not None:
            return
        try:
            slot.fault.stop()
        except Exception as exc:
            slot.error = (slot.error + "; " if slot.error else "") + f"could not undo: {type(exc).__name__}: {exc}"
            log.warning("adversity %s: %s", slot.spec.label, slot.error)
        finally:
            slot.ended_at = now()

    def stop_all(self) -> None:
        """Undo every fault still active and strike no more (the run is ending, however it ends)."""
        self._closed = True
        for slot in self._slots:
            if slot.timer is not None:
                slot.timer.cancel()
            with slot.lock:
                self._stop_locked(slot)

    # ---- what the run learns --------------------------------------------------------------------
    def active_during(self, step: StepResult) -> list[AdversitySpec]:
        """Faults whose active window overlaps the step's run."""
        return [s.spec for s in self._slots if _overlaps(s, step)]

    def blame(self, step: StepResult | None) -> str:
        """' (under adversity X struck at Y on Z)' for a failed step a fault was active during; '' otherwise."""
        if step is None:
            return ""
        hits = [s for s in self._slots if _overlaps(s, step)]
        if not hits:
            return ""
        named = "; ".join(f"{s.spec.kind} struck at {s.spec.at} on {s.fault.target if s.fault else '?'}" for s in hits)
        return f" (broken by adversity: {named})"

    def records(self, steps: Sequence[StepResult]) -> tuple[AdversityRecord, ...]:
        out = []
        for slot in self._slots:
            absorbed = tuple(AbsorbedBy(st.name, st.status.value, st.attempts, st.duration_s)
                             for st in steps if _overlaps(slot, st))
            out.append(AdversityRecord(
                slot.spec.kind, slot.spec.at, slot.fault.target if slot.fault else "-", slot.struck_at, slot.ended_at,
                slot.spec.for_, absorbed, slot.error, slot.fault.observations() if slot.fault else None))
        return tuple(out)


def _overlaps(slot: _Slot, step: StepResult) -> bool:
    if slot.struck_at is None or step.started_at is None:
        return False
    ended = slot.ended_at or now()
    step_end = step.ended_at or now()
    return step.started_at <= ended and slot.struck_at <= step_end
