"""The MLflow image: a tracking/registry server and the pyfunc scoring server, built locally from wheels.

No registry is needed: the image is built ``FROM`` the bootstrapped Debian base (``drill-base:<digest>``,
python3 3.11, no pip). Containers here cannot reach the Python package index over TLS, so the wheels are
fetched on the HOST (``pip download --only-binary=:all:`` for CPython 3.11 manylinux) into a cache, and the
build installs them offline with pip run from its own wheel. A first stage installs into ``/install``; the
second copies only that, so the wheels never weigh on the image. Cached by a content label like the stack's
images (``io.drill.image.inputs``): the next run reuses it in well under a second.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors

from harness.errors import BackendUnavailable
from harness.ports import Progress
from harness.stack.docker_api import LABEL_IMAGE, LABEL_IMAGE_INPUTS
from harness.stack.images import base_digest, build_in_memory, ensure_base, have_image

# MLflow 3 (the current release line). 3.18 cannot be installed from the index reachable here (its
# mlflow-tracing==3.18.0 is missing); 3.17.2 installs and runs. DRILL_MLFLOW_VERSION builds another (e.g. 2.22.5
# to check that an MLflow 2 server is still importable); the image tag carries the version through the digest.
MLFLOW_VERSION = os.environ.get("DRILL_MLFLOW_VERSION", "3.17.2")
# The server (full mlflow: Flask, SQLAlchemy, alembic, gunicorn) and psycopg2 for a postgresql:// backend store
# (MLflow 2.22's queries fail on psycopg 3: "operator does not exist: integer = character varying").
# SQLAlchemy 2.1 removed a pool class MLflow 2.22 imports; pandas 3 is newer than MLflow 2.22 and the client
# extra's scikit-learn pickles know.
REQUIREMENTS = (f"mlflow=={MLFLOW_VERSION}", "psycopg2-binary>=2.9,<3", "pandas<3", "sqlalchemy>=2,<2.1")
IN_IMAGE = ("scoring_server.py",)
RECIPE = """\
FROM {base} AS install
COPY wheels /wheels
RUN set -e; PIP=$(ls /wheels/pip-*.whl); python3 $PIP/pip install --no-cache-dir --no-index --find-links /wheels \
    --prefix /install {requirements}
FROM {base}
COPY --from=install /install /usr/local
COPY scoring_server.py /opt/drill/scoring_server.py
RUN mkdir -p /mlflow/artifacts && chown -R 65534:65534 /mlflow
ENV PYTHONPATH=/usr/local/lib/python3.11/site-packages HOME=/tmp PYTHONDONTWRITEBYTECODE=1
USER 65534:65534
"""


@dataclass(frozen=True)
class MlflowImage:
    tag: str
    source: str  # cached | built
    seconds: float


def _in_image_bytes() -> dict[str, bytes]:
    here = Path(__file__).parent
    return {name: (here / name).read_bytes() for name in IN_IMAGE}


def inputs_digest() -> str:
    h = hashlib.sha256(f"{base_digest()}|{'|'.join(REQUIREMENTS)}|{RECIPE}|v1".encode())
    for name, data in sorted(_in_image_bytes().items()):
        h.update(name.encode() + b"\0" + data)
    return h.hexdigest()[:16]


def image_tag() -> str:
    return f"drill-mlflow:{inputs_digest()}"


def wheel_cache() -> Path:
    root = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "drill" / "mlflow-wheels"
    return root / MLFLOW_VERSION  # one directory per MLflow version: pip skips wheels it already has


def download_wheels(dest: Path, progress: Progress) -> None:
    """Wheels for CPython 3.11 on manylinux (Debian bookworm's python3), fetched by pip on the host."""
    marker = dest / f".complete-{hashlib.sha256('|'.join(REQUIREMENTS).encode()).hexdigest()[:12]}"
    if marker.exists():
        return
    dest.mkdir(parents=True, exist_ok=True)
    progress(f"downloading MLflow {MLFLOW_VERSION} wheels on the host into {dest}")
    platforms = [a for p in ("manylinux2014_x86_64", "manylinux_2_17_x86_64", "manylinux_2_28_x86_64")
                 for a in ("--platform", p)]
    cmd = [sys.executable, "-m", "pip", "download", "-q", "--only-binary=:all:", "--python-version", "3.11",
           "--implementation", "cp", *platforms, "-d", str(dest), "pip", *REQUIREMENTS]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise BackendUnavailable(f"cannot download the MLflow wheels (pip exit {proc.returncode}): "
                                 f"{(proc.stderr or proc.stdout).strip()[-600:]}")
    marker.write_text("ok\n")


def ensure_image(client: docker.DockerClient, progress: Progress, *, force: bool = False) -> MlflowImage:
    """The MLflow image for these inputs: reused when present, else built from host-fetched wheels."""
    started = time.monotonic()
    tag = image_tag()
    if not force and have_image(client, tag):
        progress(f"MLflow image up to date ({tag})")
        return MlflowImage(tag, "cached", time.monotonic() - started)
    base = ensure_base(client, progress, force=False)
    wheels = wheel_cache()
    download_wheels(wheels, progress)
    progress(f"building {tag} (MLflow {MLFLOW_VERSION} from {len(list(wheels.glob('*.whl')))} wheels)")
    dockerfile = RECIPE.format(base=base, requirements=" ".join(f"'{r}'" for r in REQUIREMENTS))
    build_in_memory(client, tag, {"Dockerfile": dockerfile.encode(), **_in_image_bytes()},
                    {LABEL_IMAGE: "true", LABEL_IMAGE_INPUTS: inputs_digest()},
                    host_files={f"wheels/{wheel.name}": wheel for wheel in sorted(wheels.glob("*.whl"))})
    seconds = time.monotonic() - started
    progress(f"built {tag} in {seconds:.0f}s")
    return MlflowImage(tag, "built", seconds)
