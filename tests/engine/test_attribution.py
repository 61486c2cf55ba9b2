"""Every bad answer belongs to a side and a kind (issue 26, findings 3 and 6).

The router times out before the client and stamps its own answers with the slot it chose, so an unanswered
request is the candidate's error; ``bad_responses_served`` counts every bad answer, each kind apart.
"""

from __future__ import annotations

from harness.engine.verdict import BAD_KINDS, summarise
from harness.stack.services import haproxy_config, server_timeout
from harness.targets.builtin.target import FeatureProtocol
from harness.traffic.generator import Sample, read_answer


def test_the_router_times_out_before_the_client_and_stamps_its_own_answers() -> None:
    config = haproxy_config("/healthz", client_timeout=2.0)
    assert "timeout server 1600ms" in config and "timeout server 30s" not in config
    assert "http-after-response set-header X-Drill-Backend %s" in config  # also on HAProxy's own 504 and 502
    assert server_timeout(5.0) == 4.0 and server_timeout(0.05) == 0.1 and server_timeout(120.0) == 30.0


def test_a_router_504_stamped_with_the_candidate_slot_is_the_candidates_error() -> None:
    protocol = FeatureProtocol()
    example = protocol.examples(1, seed=1)[0]
    reading = read_answer(protocol, example, 504, {"x-drill-backend": "candidate"}, b"<html>504 Gateway Time-out</html>",
                          {"stable": "v2", "candidate": "v3"})
    assert reading.version == "v3"


def _s(status: int, version: str | None, *, correct: bool | None = True, score: float | None = 0.5,
       prediction: object = 1) -> Sample:
    return Sample(1000.0, status, version, 0.01, correct if status == 200 else None, False,
                  score if status == 200 else None, prediction if status == 200 else None)


def test_bad_responses_served_counts_every_kind_apart() -> None:
    """A drifted model that served wrong answers once reported 0 bad responses (errors only)."""
    samples = [
        _s(500, "v3"), _s(504, "v3"),            # errors (the router's 504 for a hung request among them)
        _s(200, "v3", correct=False),            # a wrong answer to a labelled request
        _s(200, "v3", score=3.2),                # a score out of range
        _s(200, "v3", prediction=7),             # a class the model must never answer
        _s(200, "v3"),                           # a good answer
        _s(200, "v2", correct=False), _s(500, "v2"),  # the stable's: not the candidate's fault
    ]
    t = summarise(samples, rollback_started=None, completed=None, baseline_error_rate=0.0, candidate="v3")
    assert t.bad_responses_by_kind == {"errors": 2, "wrong": 1, "out_of_range": 1, "forbidden": 1}
    assert tuple(t.bad_responses_by_kind) == BAD_KINDS and t.bad_responses_served == 5
