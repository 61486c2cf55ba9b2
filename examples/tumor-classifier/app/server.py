"""The tumour classifier's HTTP API (Flask under gunicorn).

    GET  /healthz   200 once the model is loaded
    POST /predict   {"features": {"mean radius": 17.99, ...}}  (all 30 features of the data set)
                    -> {"result": {"diagnosis": "malignant", "probability": 0.98}, "model_version": "v2"}
                    and the header X-Model-Version
    GET  /metrics   Prometheus text (prometheus_client): predictions by diagnosis, latency
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import joblib
import numpy as np
from flask import Flask, Response, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest

MODEL_DIR = Path(os.environ.get("MODEL_DIR", "/srv/model"))
model = joblib.load(MODEL_DIR / "model.joblib")
meta: dict[str, Any] = json.loads((MODEL_DIR / "meta.json").read_text())
FEATURES: list[str] = meta["features"]
CLASSES: list[str] = meta["classes"]
VERSION: str = meta["version"]

PREDICTIONS = Counter("tumor_predictions_total", "Predictions served", ["diagnosis", "version"])
REJECTED = Counter("tumor_rejected_requests_total", "Requests refused as malformed", ["version"])
LATENCY = Histogram("tumor_predict_seconds", "Time to answer /predict", ["version"])

app = Flask(__name__)


@app.get("/healthz")
def healthz() -> Response:
    return jsonify(status="ok", model_version=VERSION)


@app.post("/predict")
def predict() -> tuple[Response, int] | Response:
    started = time.perf_counter()
    payload = request.get_json(silent=True) or {}
    features = payload.get("features")
    if not isinstance(features, dict) or any(name not in features for name in FEATURES):
        REJECTED.labels(VERSION).inc()
        missing = [n for n in FEATURES if not isinstance(features, dict) or n not in features]
        return jsonify(error="features missing", missing=missing[:5]), 400
    row = np.array([[float(features[name]) for name in FEATURES]])
    probabilities = model.predict_proba(row)[0]
    best = int(np.argmax(probabilities))
    diagnosis = CLASSES[best]
    PREDICTIONS.labels(diagnosis, VERSION).inc()
    LATENCY.labels(VERSION).observe(time.perf_counter() - started)
    answer = jsonify(result={"diagnosis": diagnosis, "probability": round(float(probabilities[best]), 4)},
                     model_version=VERSION)
    answer.headers["X-Model-Version"] = VERSION
    return answer


@app.get("/metrics")
def metrics() -> Response:
    return Response(generate_latest(), mimetype=CONTENT_TYPE_LATEST)
