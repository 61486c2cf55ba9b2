"""The ``fault:`` block of a drill: the fault kinds (what each does, the fields it needs and takes; `drill faults`
prints these) and their model. Which kinds a target takes is its kind record's business (``harness.targets``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from harness.spec.types import FieldError, PositiveDuration, Strict

# Each fault kind: what it does, the fields it needs, the fields it may take (`drill faults` prints these).
FAULT_KINDS: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "error_slice": ("answer 500 when a feature is above a value (a slice of inputs fails)", ("feature", "above"), ()),
    "latency": ("add a fixed delay to every answer", ("ms",), ()),
    "wrong_answers": ("flip every prediction, or those of a share `rate` of the inputs (fixed by the input)", (), ("rate",)),
    "crash": ("fail to load: the server never becomes ready (a crash loop)", (), ("message",)),
    "out_of_range": ("multiply scores out of their [0, 1] range (a business rule breaks)", (), ("scale",)),
    "forbidden_output": ("answer a forbidden prediction (2) when a feature is above a value (a safety rule breaks)",
                         ("feature", "above"), ()),
    "renamed_feature": ("expect a renamed input feature (an upstream schema change): requests answer 422",
                        ("feature",), ("rename_to",)),
    "none": ("no fault: a good candidate, for drills that expect a promotion", (), ()),
    # Injected (inject: true) by a fault proxy in front of the candidate: any HTTP server, the image target's way.
    "error": ("inject: answer `status` (503) on a share `rate` of the candidate's predict requests", (), ("rate", "status")),
    "drop": ("inject: reset the connection without an answer on a share `rate` of predict requests", (), ("rate",)),
    "wrong_body": ("inject: answer status 200 with `body` instead of the real answer on a share `rate`", (), ("rate", "body")),
}
# Kinds a fault proxy makes at the network level (inject: true); latency too, by `ms`, on a share `rate`.
NETWORK_FAULTS = ("error", "latency", "drop", "wrong_body", "none")
_INJECTED_FIELDS = ("rate", "status", "body")


class FaultSpec(Strict):
    kind: Literal["error_slice", "latency", "wrong_answers", "crash", "out_of_range", "forbidden_output", "renamed_feature",
                  "error", "drop", "wrong_body", "none"] = Field(
        description="what is wrong with the candidate; the fault kinds page (`drill faults`) gives the fields each needs and the "
                    "target kinds that take it")
    feature: str | None = Field(default=None, description="input feature the fault keys on (x0..x3)")
    above: float | None = Field(default=None, description="the fault applies where the feature exceeds this")
    ms: float | None = Field(default=None, gt=0, description="added latency in milliseconds")
    scale: float | None = Field(default=None, gt=0, description="factor the scores are multiplied by (default 3)")
    rename_to: str | None = Field(default=None, description="the feature's new name (default <feature>_v2)")
    message: str | None = Field(default=None, description="the crash's error message")
    inject: bool = Field(default=False, description="made by a fault proxy in front of the candidate, not by the model")
    rate: float | None = Field(default=None, ge=0, le=1, description="injected: the share of predict requests faulted (1.0)")
    status: int | None = Field(default=None, ge=400, le=599, description="injected error: the status answered (503)")
    body: Any = Field(default=None, description="injected wrong_body: the JSON answered with status 200")
    after: PositiveDuration | None = Field(default=None, description="the fault strikes this long after the model "
                                           "loads (a regression that shows late); the built-in and MLflow models")

    @model_validator(mode="after")
    def _fields_of_the_kind(self) -> FaultSpec:
        if self.inject and self.kind not in NETWORK_FAULTS:
            raise FieldError(("inject",), f"an injected fault is one of {', '.join(NETWORK_FAULTS)}; {self.kind!r} is made by the model")
        if not self.inject and self.kind in ("error", "drop", "wrong_body"):
            raise FieldError(("kind",), f"{self.kind!r} is a network fault: set inject: true")
        if self.after is not None and (self.inject or self.kind in ("crash", "renamed_feature", "none")):
            raise FieldError(("after",), f"fault kind {self.kind} takes no after: only a fault the model serves can start late")
        _, required, optional = FAULT_KINDS[self.kind]
        if self.inject and self.kind == "latency":
            optional = (*optional, "rate")
        missing = [f for f in required if getattr(self, f) is None]
        extra = [f for f in ("feature", "above", "ms", "scale", "rename_to", "message", *_INJECTED_FIELDS)
                 if getattr(self, f) is not None and f not in required + optional]
        if missing:
            raise FieldError(("kind",), f"fault kind {self.kind} needs {', '.join(missing)} (see `drill faults`)")
        if extra:
            raise FieldError((extra[0],), f"fault kind {self.kind} takes no {', '.join(extra)} (see `drill faults`)")
        return self
