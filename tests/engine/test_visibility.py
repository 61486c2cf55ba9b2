"""Checks that cannot silently look at nothing (issue 26, finding 6): each check shows at the end of the baseline
that it can see, else the run is an ``error`` naming the check and what it saw, before any deploy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from harness.engine.engine import Engine, RunOptions
from harness.engine.results import RunStatus
from harness.engine.visibility import compare_problem, metric_problems, problems, version_problem
from harness.ports import Example
from harness.spec.models import CompareCheck, DrillSpec, MetricCheck
from harness.targets.image.protocol import JsonlProtocol, dotted
from harness.targets.image.spec import ImageTargetSpec, RequestLine
from harness.traffic.generator import Sample
from tests.conftest import ROOT
from tests.engine.test_engine import drill
from tests.fakes import FakeTarget, factory

REQUESTS = ROOT / "examples" / "tumor-classifier" / "requests.jsonl"

OIP_ANSWER = {"model_name": "iris", "outputs": [
    {"name": "probabilities", "datatype": "FP64", "shape": [1, 2], "data": [0.1, 0.9]},
    {"name": "predict", "datatype": "INT64", "shape": [1], "data": [1]}]}


def _spec(**over: object) -> ImageTargetSpec:
    spec = {"kind": "image", "request": {"source": str(REQUESTS)}, "versions": {"a": {"image": "x"}, "b": {"image": "y"}},
            "stable": "a", "candidate": "b", **over}
    return ImageTargetSpec.model_validate(spec)


def _answers(protocol: JsonlProtocol, expect: object, n: int = 30) -> tuple[list[Sample], list[Example]]:
    examples = [Example(b"{}", expect) for _ in range(n)]
    samples = []
    for i, ex in enumerate(examples):
        r = protocol.read(ex, 200, {"x-model-version": "a"}, json.dumps(OIP_ANSWER).encode())
        samples.append(Sample(1000.0 + i, 200, r.version, 0.01, r.correct, False, r.score, r.prediction))
    return samples, examples


INCORRECT = CompareCheck.model_validate({"name": "accuracy", "measure": "incorrect"})


def test_a_v2_output_is_picked_by_index_or_by_name() -> None:
    assert dotted(OIP_ANSWER, "outputs.1.data.0") == 1 and dotted(OIP_ANSWER, "outputs.predict.data.0") == 1
    assert dotted(OIP_ANSWER, "outputs.-1.name") == "predict"


def test_a_bracketed_path_is_bad_input_naming_the_dotted_form() -> None:
    with pytest.raises(ValidationError, match=r"write 'outputs\.0\.data\.0'"):
        _spec(prediction_field="outputs[0].data[0]")
    with pytest.raises(ValidationError, match="not a dotted path"):
        _spec(version={"json_field": "meta..version"})


def test_a_prediction_field_that_never_resolves_cannot_see() -> None:
    lines = [RequestLine(b"{}", 1, False, 1)]
    protocol = JsonlProtocol(_spec(prediction_field="outputs.predict.value"), lines)
    samples, examples = _answers(protocol, 1)
    problem = compare_problem(INCORRECT, samples, examples)
    assert problem is not None and "'accuracy'" in problem and "never resolved on any of 30" in problem


def test_labels_that_never_match_name_the_type_mismatch() -> None:
    """Finding 6 as reproduced with MLServer: ``expect: "1"`` against an INT64 answer ``1``: all wrong, silently."""
    lines = [RequestLine(b"{}", "1", False, 1)]
    protocol = JsonlProtocol(_spec(prediction_field="outputs.predict.data.0"), lines)
    samples, examples = _answers(protocol, "1")
    problem = compare_problem(INCORRECT, samples, examples)
    assert problem is not None and "labels compare as JSON values" in problem
    assert "1 (int)" in problem and "'1' (str)" in problem
    good, examples = _answers(protocol, 1)  # the same answers against numeric labels: it can see
    assert compare_problem(INCORRECT, good, examples) is None


def test_scores_protected_answers_and_the_version_must_show_up() -> None:
    answered = [Sample(1000.0, 200, "v2", 0.01, None, False, None, "benign") for _ in range(10)]
    for measure, said in (("out_of_range", "no answer carried a score"), ("forbidden", "no protected request")):
        problem = compare_problem(CompareCheck.model_validate({"name": "g", "measure": measure}), answered, [])
        assert problem is not None and said in problem
    assert compare_problem(CompareCheck.model_validate({"name": "e", "measure": "error"}), [], []) is None
    problem = version_problem(answered, "v1")
    assert problem is not None and "'v1'" in problem and "saw v2" in problem
    assert version_problem(answered, "v2") is None


class Series:
    """Prometheus with only some series (what a scrape on the wrong port leaves)."""

    def __init__(self, *names: str) -> None:
        self.names = names

    def query(self, promql: str) -> float | None:
        if promql.startswith("count("):
            return 1.0 if any(f'"{n}"' in promql for n in self.names) else None
        return None  # no data for the check's own query


def test_a_query_on_a_metric_nothing_scrapes_cannot_see() -> None:
    check = MetricCheck.model_validate({
        "name": "p90", "failure_above": 0.2,
        "query": 'histogram_quantile(0.9, sum by (le) (rate(model_request_duration_seconds_bucket{slot="candidate"}[10s])))'})
    problems_found = metric_problems(check, Series("haproxy_server_http_responses_total"), wait_s=0)
    assert problems_found and "'p90'" in problems_found[0] and "model_request_duration_seconds_bucket" in problems_found[0]
    assert metric_problems(check, Series("model_request_duration_seconds_bucket"), wait_s=0) == []
    assert "le" not in problems_found[0].split("of ")[1]  # a grouping label is not a metric


def test_a_check_that_cannot_see_ends_the_run_in_error_before_any_deploy(tmp_path: Path) -> None:
    """Every version answers its classes as strings where the labels are numbers: the accuracy check would call
    every answer wrong on both sides and judge nothing."""
    target = FakeTarget(bad=set(), behaviour={"*": "strings"})
    d = drill(detection={"interval": "100ms", "max_wait": "3s", "compare": [{"name": "accuracy", "measure": "incorrect"}]})
    result = Engine(make_target=factory(target)).run(d, RunOptions(report_root=tmp_path))
    assert result.status is RunStatus.ERROR and result.as_expected is False, result.reason
    assert "a check cannot see" in result.reason and "'accuracy'" in result.reason and "'1' (str)" in result.reason
    assert "deploy" not in [p.name for p in result.phases] and "candidate" not in target.backend.slots
    assert problems([], "v2", [], []) == []


def test_validate_refuses_a_check_the_target_could_never_feed() -> None:
    """Static: on a team's server, a wrong-answer check needs a prediction_field and no answer gives a score."""
    base = drill().spec.model_dump(mode="json", exclude_defaults=True)
    target = {"kind": "image", "request": {"source": str(REQUESTS)}, "versions": {"a": {"image": "x"}, "b": {"image": "y"}},
              "stable": "a", "candidate": "b"}
    for measure, said in (("incorrect", "set target.prediction_field"), ("out_of_range", "needs a score")):
        spec = {**base, "target": target, "fault": {"kind": "error", "inject": True, "rate": 0.3},
                "detection": {"compare": [{"name": "c", "measure": measure}]}}
        with pytest.raises(ValidationError, match=said):
            DrillSpec.model_validate(spec)
    ok = {**base, "target": {**target, "prediction_field": "outputs.predict.data.0"},
          "fault": {"kind": "error", "inject": True, "rate": 0.3}, "detection": {"compare": [{"name": "c", "measure": "incorrect"}]}}
    assert DrillSpec.model_validate(ok).target.blind_to("incorrect") is None


def test_a_metrics_check_whose_metric_never_had_a_series_ends_in_error_not_a_verdict(tmp_path: Path) -> None:
    """A metrics_path on the wrong port: Prometheus has nothing of the model's; the window runs out undecided and
    the run says which check saw nothing."""
    target = FakeTarget(bad=set())
    target.metrics = Series("haproxy_server_http_responses_total")  # the router's metrics only
    d = drill(expect="promote", detection={"interval": "100ms", "max_wait": "1s", "metrics": [{
        "name": "p90", "failure_above": 0.2,
        "query": 'histogram_quantile(0.9, sum by (le) (rate(model_request_duration_seconds_bucket{slot="candidate"}[10s])))'}]})
    result = Engine(make_target=factory(target)).run(d, RunOptions(report_root=tmp_path))
    assert result.status is RunStatus.ERROR and result.as_expected is False, result.reason
    assert "a check cannot see" in result.reason and "no series of model_request_duration_seconds_bucket" in result.reason
