"""Background noise: the drill's ``noise:`` block (validated), its environment for the model containers, and
what the model server does with it."""

from __future__ import annotations

import random
import statistics
from pathlib import Path

import pytest

from harness.errors import SpecError
from harness.serving.model_server import Noise, predict
from harness.spec import catalogue
from harness.spec.models import NoiseSpec
from harness.targets.builtin.model import train
from harness.targets.builtin.seed import artifact

DRILL = """\
name: noisy
root_cause: other
fault: {kind: none}
noise: NOISE
detection:
  compare: [{name: e, measure: error}]
runbook: canary-rollback
"""


def drill_with(tmp_path: Path, noise: str) -> Path:
    path = tmp_path / "noisy.yaml"
    path.write_text(DRILL.replace("NOISE", noise))
    return path


def test_noise_block_reaches_the_model_environment(tmp_path: Path) -> None:
    spec = catalogue.load_drill(str(drill_with(tmp_path, "{error_rate: 0.02, latency_jitter: 15ms, wrong_rate: 0.01}"))).spec
    assert spec.noise == NoiseSpec(error_rate=0.02, latency_jitter=0.015, wrong_rate=0.01)
    env = spec.noise.env()
    assert env == {"NOISE_ERROR_RATE": "0.02", "NOISE_LATENCY_JITTER_MS": "15.0", "NOISE_WRONG_RATE": "0.01"}
    assert Noise.from_env(env).jitter_s == pytest.approx(0.015)
    assert NoiseSpec().env()["NOISE_ERROR_RATE"] == "0.0"  # quiet by default


@pytest.mark.parametrize(("noise", "field"), [
    ("{error_rate: .nan}", "noise.error_rate"),
    ("{error_rate: .inf}", "noise.error_rate"),
    ("{error_rate: -0.1}", "noise.error_rate"),
    ("{wrong_rate: 0.9}", "noise.wrong_rate"),
    ("{latency_jitter: 10 minutes}", "noise.latency_jitter"),
    ("{latency_jitter: 5s}", "noise.latency_jitter"),
    ("{errors: 0.1}", "noise.errors"),
])
def test_bad_noise_is_refused_naming_file_and_field(tmp_path: Path, noise: str, field: str) -> None:
    path = drill_with(tmp_path, noise)
    with pytest.raises(SpecError) as exc:
        catalogue.load_drill(str(path))
    assert [(i.file, i.field) for i in exc.value.issues] == [(str(path), field)]
    assert exc.value.issues[0].line == 4


@pytest.mark.parametrize(("error_rate", "jitter_s", "wrong_rate"), [(float("nan"), 0.0, 0.0), (0.0, -1.0, 0.0),
                                                                   (0.0, 0.0, 1.5), (0.0, float("inf"), 0.0)])
def test_model_server_refuses_bad_noise(error_rate: float, jitter_s: float, wrong_rate: float) -> None:
    with pytest.raises(ValueError):
        Noise(error_rate, jitter_s, wrong_rate)


MODEL = {**artifact(train(seed=2)), "version": "v2"}
FEATURES = {"x0": 0.1, "x1": -0.4, "x2": 1.2, "x3": 0.3}


def test_quiet_server_answers_deterministically() -> None:
    first = predict(MODEL, FEATURES)
    assert first[0] == 200 and all(predict(MODEL, FEATURES) == first for _ in range(50))


def test_noise_rates_are_what_the_drill_asked_for() -> None:
    noise = Noise(error_rate=0.1, wrong_rate=0.2, rng=random.Random(1))
    _, clean = predict(MODEL, FEATURES)
    answers = [predict(MODEL, FEATURES, noise) for _ in range(4000)]
    errors = sum(status == 503 for status, _ in answers)
    flipped = sum(status == 200 and body["prediction"] != clean["prediction"] for status, body in answers)
    assert errors / 4000 == pytest.approx(0.1, abs=0.02)
    assert flipped / (4000 - errors) == pytest.approx(0.2, abs=0.025)
    assert all(body.get("score") == clean["score"] for status, body in answers if status == 200)  # scores untouched


def test_latency_jitter_is_exponential_with_the_asked_mean() -> None:
    noise = Noise(jitter_s=0.02, rng=random.Random(2))
    delays = [noise.delay() for _ in range(20000)]
    assert statistics.fmean(delays) == pytest.approx(0.02, rel=0.05)
    assert statistics.median(delays) == pytest.approx(0.02 * 0.6931, rel=0.05)  # exponential median = mean ln 2
    assert Noise().delay() == 0.0


def test_noise_on_top_of_a_fault_keeps_the_fault() -> None:
    bad = {**MODEL, "fault": {"kind": "forbidden_output", "feature": "x3", "above": 0.0}}
    noise = Noise(wrong_rate=1.0, rng=random.Random(3))
    status, body = predict(bad, FEATURES, noise)
    assert status == 200 and body["prediction"] == 2  # a forbidden answer is never "flipped" into a valid one
