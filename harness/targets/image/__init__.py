"""The ``image`` target: a team's own model server image (or Dockerfile) as a drill target.

``spec`` (the drill's ``target: {kind: image}`` block) loads without Docker; ``create`` imports the
Docker parts only when a drill of this kind runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from harness.catalogue import LoadedDrill
    from harness.targets.image.target import ImageTarget


def create(drill: LoadedDrill, run_id: str, workdir: Path, backend: str) -> ImageTarget:
    from harness.targets.image.target import create as create_target

    return create_target(drill, run_id, workdir, backend)
