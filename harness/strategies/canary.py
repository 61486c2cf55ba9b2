"""``canary``: the candidate takes ``strategy.weight`` % of the traffic beside the stable version."""

from harness.strategies.split import TrafficSplit

CANARY = TrafficSplit("canary", share_from_spec=True)
