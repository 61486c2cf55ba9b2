"""image-missing: where a replacement replica of the slot would land, the model image is gone and no registry is
reachable (Swarm on a ``drill cluster up`` cluster).

Struck at a step (say the one that loses a node), it picks every ready node running no replica of the slot, removes
the model image there and refuses the registry from there (``harness.backends.swarm.withhold``). A replica Swarm
then schedules on such a node is rejected ("No such image"); a runbook waiting with ``fail_fast`` fails at once,
naming the node and the image. At the end the registry is reachable again (the image is pulled back when needed).
"""

from __future__ import annotations

from typing import Any

from harness.adversity.base import AdversityError, FaultContext, kind
from harness.adversity.capacity import swarm_backend
from harness.adversity.spec import AdversitySpec


class ImageMissing:
    def __init__(self, spec: AdversitySpec, ctx: FaultContext) -> None:
        self.spec, self.ctx = spec, ctx
        self.target = f"nodes without a {spec.slot} replica"
        self._nodes: list[str] = []
        self._image = ""

    def start(self) -> None:
        swarm = swarm_backend(self.ctx.target)
        if swarm is None or not hasattr(swarm, "withhold_image"):
            raise AdversityError("image-missing needs backend swarm on a multi-node cluster (`drill cluster up`)")
        self._image = str(swarm.image)
        self._nodes = list(swarm.withhold_image(self.spec.slot))
        self.target = f"{', '.join(self._nodes)} (no {self._image}, no registry)"

    def stop(self) -> None:
        swarm = swarm_backend(self.ctx.target)
        if swarm is not None and hasattr(swarm, "give_back_image"):
            swarm.give_back_image()

    def observations(self) -> dict[str, Any]:
        return {"nodes": list(self._nodes), "image": self._image} if self._nodes else {}


@kind("image-missing")
def _missing(spec: AdversitySpec, ctx: FaultContext) -> ImageMissing:
    return ImageMissing(spec, ctx)
