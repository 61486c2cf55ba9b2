"""Big model artifacts in MLflow: each version's ``weights.bin``, logged to the run's MLflow server.

A real model's load time grows with its weights; the drill's models are a few kilobytes. With a drill's
``target.artifact_size`` every version's model directory also gets a ``weights.bin`` of that size (seeded noise,
every MiB different, the same bytes the built-in target writes), so a scoring server that starts a version
downloads it through the tracking server and hashes it before it serves (``scoring_server.verify``).

The bytes are made INSIDE the MLflow server's container (``docker exec``, stdlib Python) and streamed to the
server's own artifact API on the container's loopback (``PUT /api/2.0/mlflow-artifacts/artifacts/<path>``, what
``MlflowClient.log_artifact`` sends), so they are logged as an artifact of the version's run and stored by the real
server, and nothing that large crosses the Docker API or the published port. Streaming needs no staging copy:
``log_artifact`` wants a file, and a 2 GB file per version would be written once more for nothing. The sha256
goes into the version's checksum tag (``drill.artifact_sha256``, beside every other file's), and the file name
and size into ``drill.weights``.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from harness.ports import Progress, ServiceFailed
from harness.serving.model_server import noise_chunks

if TYPE_CHECKING:
    from docker.models.containers import Container

WEIGHTS_FILE = "weights.bin"
WEIGHTS_TAG = "drill.weights"  # {"file": "weights.bin", "size": <bytes>}
_PROGRESS_EVERY = 64  # MiB: a line on stderr keeps the exec's stream (and the Docker client's timeout) alive

# Runs in the MLflow container: argv = port, artifact path, size, seed. Prints the sha256 of what it sent. The bytes
# come from the built-in model server's own generator, its source carried along (the image does not hold that file).
UPLOAD = f"""\
from __future__ import annotations
import hashlib, http.client, random, sys
from collections.abc import Iterator
{inspect.getsource(noise_chunks)}
port, path, size, seed = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
h = hashlib.sha256()
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
conn.putrequest("PUT", "/api/2.0/mlflow-artifacts/artifacts/" + path)
conn.putheader("Content-Type", "application/octet-stream")
conn.putheader("Content-Length", str(size))
conn.endheaders()
for index, chunk in enumerate(noise_chunks(size, seed), 1):
    conn.send(chunk)
    h.update(chunk)
    if index % {_PROGRESS_EVERY} == 0:
        print(index, file=sys.stderr, flush=True)
answer = conn.getresponse()
body = answer.read()
if answer.status != 200:
    sys.exit(f"HTTP {{answer.status}} from the MLflow server: {{body[:300]!r}}")
print(h.hexdigest(), flush=True)
"""


def artifact_path(uri: str) -> str:
    """The server-side path of an ``mlflow-artifacts:`` URI (``mlflow-artifacts:/1/<run>/artifacts/model``)."""
    parsed = urlparse(uri)
    if parsed.scheme != "mlflow-artifacts":
        raise ServiceFailed(f"weights can be logged only through the server's artifact proxy, not to {uri!r}")
    return parsed.path.lstrip("/")


def recorded_weights(tags: Mapping[str, str]) -> tuple[str, int] | None:
    """(file, size) of the weights a version's tags record; None for a version without."""
    raw = tags.get(WEIGHTS_TAG)
    if not raw:
        return None
    found = json.loads(raw)
    return str(found["file"]), int(found["size"])


class ServerWeights:
    """Logs ``size`` bytes of weights into a version's model directory, from inside the MLflow container."""

    def __init__(self, container: Container, port: int, size: int, progress: Progress) -> None:
        self.container = container
        self.port = port
        self.size = size
        self.progress = progress

    def __call__(self, model_uri: str, seed: int) -> tuple[str, int, str]:
        """(file name, size, sha256) of the weights logged under ``model_uri`` (the version's model directory)."""
        import docker.errors

        path = f"{artifact_path(model_uri)}/{WEIGHTS_FILE}"
        api = self.container.client.api
        try:
            exec_id = api.exec_create(self.container.id, ["python3", "-c", UPLOAD, str(self.port), path,
                                                          str(self.size), str(seed)])["Id"]
            out, err = b"", b""
            for stdout, stderr in api.exec_start(exec_id, stream=True, demux=True):
                out += stdout or b""
                err += stderr or b""
            code = api.exec_inspect(exec_id).get("ExitCode")
        except (docker.errors.APIError, OSError) as exc:  # OSError: requests' timeouts and connection errors
            raise ServiceFailed(f"logging weights to MLflow failed: {type(exc).__name__}: {exc}") from exc
        digest = out.decode(errors="replace").strip()
        if code != 0 or len(digest) != 64:
            tail = err.decode(errors="replace").strip().splitlines()[-3:]
            raise ServiceFailed(f"logging {self.size:,} bytes of weights to {path} failed (exit {code}): "
                                f"{' '.join(tail)[-400:]}")
        return WEIGHTS_FILE, self.size, digest
