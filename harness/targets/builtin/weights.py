"""Big model artifacts on the registry volume: each version's weights file, written once per run.

A real model's load time grows with its weights; the built-in model is a few hundred bytes. With a drill's
``artifact_size`` every version also gets a ``weights.bin`` of that size (seeded noise, each MiB different),
written inside the run's registry volume by one short-lived container (nothing that large crosses the
Docker API), whose sha256 goes into the version's metadata. The model server reads and hashes the whole
file before it serves (``harness/serving/model_server.py`` ``load_blob``), so bringing a version back
costs what loading it costs.
"""

from __future__ import annotations

import re
import shlex

import docker
import docker.errors

from harness.ports import ServiceFailed
from harness.stack.docker_api import run_labels
from harness.stack.services import hardening

WEIGHTS_FILE = "weights.bin"
_DIGEST = re.compile(r"^([0-9a-f]{64})$", re.MULTILINE)


def write_weights(client: docker.DockerClient, image: str, volume: str, mount: str, run_id: str, model: str,
                  versions: list[str], size: int) -> dict[str, str]:
    """Write ``size`` bytes of weights for each version in the volume; returns each version's sha256."""
    paths = [f"{mount}/{model}/versions/{v}/{WEIGHTS_FILE}" for v in versions]
    script = " && ".join(f"python3 /opt/drill/model_server.py pad {shlex.quote(p)} {size} {i + 1}"
                         for i, p in enumerate(paths))
    try:
        # Root without capabilities: the volume's files are root's (put_archive), nothing else is allowed.
        out = client.containers.run(
            image, ["sh", "-c", script], entrypoint=[], name=f"drill-{run_id}-weights", remove=True,
            labels=run_labels(run_id, "registry-weights"), network_mode="none",
            volumes={volume: {"bind": mount, "mode": "rw"}}, **hardening("256m", 32, user="0:0"),
        )
    except docker.errors.ContainerError as exc:
        raise ServiceFailed(f"writing {size:,}-byte weights in the registry volume failed: "
                            f"{(exc.stderr or b'').decode(errors='replace')[-400:]}") from exc
    except docker.errors.APIError as exc:
        raise ServiceFailed(f"writing weights in the registry volume failed: {exc}") from exc
    digests = _DIGEST.findall(out.decode() if isinstance(out, bytes) else str(out))
    if len(digests) != len(versions):
        raise ServiceFailed(f"weights writer printed {len(digests)} digests for {len(versions)} versions")
    return dict(zip(versions, digests))
