"""``blue-green``: the candidate starts beside the stable version and takes all traffic at once; the stable
version keeps running (idle) until promotion, so rolling back is a router switch."""

from harness.strategies.split import TrafficSplit

BLUE_GREEN = TrafficSplit("blue-green", share_from_spec=False)
