"""``drill init``: scaffold a drill and a runbook for a team's own image.

The drill it writes runs the image as both the stable and the candidate version and injects 5xx in
front of the candidate, so it works before the team has a second version: the first run proves the
router, the detection and the rollback path around their server. A real bad version, a build context
and expected answers are one edit away (the comments in the file say where).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from harness.errors import SpecError, SpecIssue

_NAME = re.compile(r"[^a-z0-9]+")

DRILL = """\
# A rollback drill for {image}, scaffolded by `drill init`. Run it with: drill run {name}-canary
# Both versions are the same image; a fault proxy answers 503 to 30 % of the candidate's predict
# requests, so the canary must be caught and rolled back. For a real bad version, give the candidate
# its own image (another tag) or a build (build: {{context: .., dockerfile: Dockerfile, args: {{...}}}}).
name: {name}-canary
description: A canary of {image} answering 503 on 30 % of requests must be rolled back.
model: {name}
root_cause: performance         # injected 5xx: the catalogue calls a version that answers errors a performance failure
target:
  kind: image
  port: {port}
  health_path: {health_path}
  predict_path: {predict_path}
  # metrics_path: /metrics        # if the server has Prometheus metrics, they are scraped too
  request:
    source: {requests}            # one {{"body": ..., "expect": ...}} a line; expect may be null
    method: POST
    headers: {{Content-Type: application/json}}
  # version: {{header: X-Model-Version}}   # or {{json_field: model_version}}; unset: the router says
  # prediction_field: prediction           # dotted JSON path compared with each line's expect
  versions:
    current: {{image: "{image}"}}
    next: {{image: "{image}"}}
  stable: current
  candidate: next
  read_only: true                 # false if the server must write outside /tmp
strategy: {{kind: canary, weight: 10}}
fault: {{kind: error, inject: true, rate: 0.3, status: 503}}
traffic: {{rate: 20}}
detection:
  interval: 500ms
  max_wait: 60s
  metrics:
    - name: candidate-5xx-ratio
      query: >-
        sum(increase(haproxy_server_http_responses_total{{proxy="models",server="candidate",code="5xx"}}[10s]))
        / sum(increase(haproxy_server_http_responses_total{{proxy="models",server="candidate"}}[10s]))
      samples_query: sum(increase(haproxy_server_http_responses_total{{proxy="models",server="candidate"}}[10s]))
      failure_above: 0.05
      min_samples: 10
  compare:                        # client-side errors, candidate vs stable: the anytime-valid sequential judge
    - {{name: client-errors-vs-stable, measure: error}}
runbook: {name}-rollback
time_target: 15m
profiles:
  ci: {{baseline: 3s, decision: automated}}
  quarterly: {{baseline: 30s, decision: manual, decision_timeout: 10m}}
"""

RUNBOOK = """\
# The rollback runbook for {name}, scaffolded by `drill init`: edit the steps to match yours.
name: {name}-rollback
description: Drain the canary, point the registry back at the previous version, stop the canary, verify.
steps:
  - name: drain-candidate
    action: router.drain
    params: {{server: candidate, settle: 2s}}
    timeout: 5s
    retry: {{attempts: 3, backoff: 100ms}}
  - name: restore-previous
    action: registry.restore_previous
    timeout: 10s
  - name: stop-candidate
    action: service.stop
    params: {{service: candidate}}
    timeout: 15s
  - name: verify-stable-serving
    action: verify.http
    params: {{requests: 20, expect_version: "${{stable_version}}"}}
    verify: true
    timeout: 10s
    retry: {{attempts: 3, backoff: 200ms}}
  - name: verify-error-rate
    action: verify.error_rate
    params: {{min_requests: 20, tolerance: 0.01, expect_version: "${{stable_version}}"}}
    verify: true
    timeout: 10s
"""

REQUESTS = '{"body": {}, "expect": null}\n'


@dataclass(frozen=True)
class Scaffolded:
    name: str
    written: tuple[Path, ...]
    kept: tuple[Path, ...]  # files that existed and were left alone (the request file)


def model_name(image: str) -> str:
    """``registry.example/team/fraud-model:1.4`` -> ``fraud-model``."""
    last = image.rsplit("/", 1)[-1].split("@", 1)[0].split(":", 1)[0]
    return _NAME.sub("-", last.lower()).strip("-") or "model"


def scaffold(root: Path, image: str, *, port: int = 8080, health_path: str = "/healthz", predict_path: str = "/predict",
             name: str | None = None, requests: Path | None = None, force: bool = False) -> Scaffolded:
    """Write drills/<name>-canary.yaml, runbooks/<name>-rollback.yaml and (if absent) requests.jsonl under root."""
    issues = []
    if not 1 <= port <= 65535:
        issues.append(SpecIssue("--port", "port", f"expected 1-65535, got {port}"))
    for flag, url_path in (("--health-path", health_path), ("--predict-path", predict_path)):
        if not url_path.startswith("/") or any(c.isspace() for c in url_path):
            issues.append(SpecIssue(flag, flag.lstrip("-"), f"expected an absolute URL path such as /predict, got {url_path!r}"))
    if not image.strip() or any(c.isspace() for c in image):
        issues.append(SpecIssue("--image", "image", f"expected an image reference such as team/model:1.4, got {image!r}"))
    chosen = _NAME.sub("-", (name or model_name(image)).lower()).strip("-")
    if not chosen:
        issues.append(SpecIssue("--name", "name", f"no usable name in {name!r}"))
    drill = root / "drills" / f"{chosen}-canary.yaml"
    runbook = root / "runbooks" / f"{chosen}-rollback.yaml"
    if not force:
        for path in (drill, runbook):
            if path.exists():
                issues.append(SpecIssue(str(path), "-", "exists; pass --force to overwrite it"))
    if requests is not None and not requests.is_file():
        issues.append(SpecIssue(str(requests), "--requests", "no such file"))
    if issues:
        raise SpecError(issues)
    request_file = requests.resolve() if requests is not None else root / "requests.jsonl"
    source = _relative(request_file, drill.parent)
    drill.parent.mkdir(parents=True, exist_ok=True)
    runbook.parent.mkdir(parents=True, exist_ok=True)
    values = {"image": image, "name": chosen, "port": port, "health_path": health_path,
              "predict_path": predict_path, "requests": source}
    drill.write_text(DRILL.format(**values))
    runbook.write_text(RUNBOOK.format(**values))
    written: list[Path] = [drill, runbook]
    kept: list[Path] = []
    if request_file.exists():
        kept.append(request_file)
    else:
        request_file.write_text(REQUESTS)
        written.append(request_file)
    return Scaffolded(chosen, tuple(written), tuple(kept))


def _relative(path: Path, start: Path) -> str:
    import os

    return os.path.relpath(path.resolve(), start.resolve())
