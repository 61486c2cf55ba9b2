"""The ``traffic:`` block of a drill: the rate (constant, a ramp, or stages), connections, timeout and SLO.

Re-exported from ``harness.spec.models``; the load generator turns it into a schedule (``harness.traffic.profile``).
"""

from __future__ import annotations

from pydantic import Field, model_validator

from harness.spec.types import Duration, PositiveDuration, Strict

MAX_RATE = 5000.0  # requests/s a drill may ask for (the load generator sustains >= 500 on 2 cores)


class StageSpec(Strict):
    """One stage of the offered load: the rate moves linearly to ``rate`` over ``duration``."""

    duration: PositiveDuration = Field(description="how long the rate takes to move to this stage's rate")
    rate: float = Field(gt=0, le=MAX_RATE, description="requests per second at the end of the stage")


class TrafficSpec(Strict):
    rate: float = Field(default=50.0, gt=0, le=MAX_RATE, description="requests per second sent through the router "
                        "and held from the baseline to the end (after the ramp or the stages)")
    ramp: Duration = Field(default=0.0, description="a linear ramp from start_rate up to rate over this long")
    start_rate: float | None = Field(default=None, gt=0, le=MAX_RATE,
                                     description="where the ramp or the stages start (default: a tenth of the rate)")
    stages: list[StageSpec] = Field(default_factory=list, max_length=100,
                                    description="instead of ramp: each stage moves the rate linearly to its own")
    workers: int | None = Field(default=None, ge=1, le=1024, description="requests in flight at most (connections "
                                "to the router); default: enough for 50 ms answers at the rate")
    timeout: PositiveDuration = Field(default=5.0, description="a request with no answer within this counts as failed")
    labelled: float = Field(default=1.0, ge=0.0, le=1.0, description="share of the requests whose label (the right "
                            "answer) the harness knows, as in production where labels arrive for some only; the others are "
                            "judged without one (in shadow: by disagreement against a second stable instance)")
    slo: PositiveDuration = Field(default=0.5, description="an answer slower than this counts as slow "
                                  "(per second, during the rollback)")

    @model_validator(mode="after")
    def _one_shape(self) -> TrafficSpec:
        if self.stages and self.ramp:
            raise ValueError("give either ramp (with start_rate) or stages, not both")
        if self.stages and "rate" in self.model_fields_set and self.rate != self.stages[-1].rate:
            raise ValueError(f"the last stage's rate {self.stages[-1].rate:g} is the rate held: rate {self.rate:g} differs")
        return self

    @property
    def held_rate(self) -> float:
        return self.stages[-1].rate if self.stages else self.rate

    @property
    def connections(self) -> int:
        return self.workers if self.workers is not None else max(4, min(256, int(self.held_rate * 0.05 + 0.999)))
