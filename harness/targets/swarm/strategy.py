"""The ``swarm-update`` strategy's policy: a drill's strategy block -> Swarm's update_config."""

from __future__ import annotations

from harness.specs import StrategySpec
from harness.stack.docker_api import UpdatePolicy


def policy_of(strategy: StrategySpec) -> UpdatePolicy:
    """Swarm's update_config for the drill (``docker service update --update-failure-action rollback ...``)."""
    return UpdatePolicy(parallelism=strategy.parallelism, delay_s=strategy.delay, failure_action=strategy.failure_action,
                        monitor_s=strategy.monitor, max_failure_ratio=0.0, order=strategy.order)
