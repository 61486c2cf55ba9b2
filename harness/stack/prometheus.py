"""A small client for Prometheus's HTTP API (instant queries).

The harness's Prometheus is always its own, published on 127.0.0.1: the client never goes through
an ``http_proxy`` from the environment (urllib would otherwise send even loopback requests there).
"""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.parse
import urllib.request

from harness.ports import PrometheusError as PrometheusError  # defined beside its port

_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # no proxies, whatever the environment says




class PrometheusClient:
    def __init__(self, base_url: str, timeout: float = 2.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def query(self, expr: str) -> float | None:
        """The scalar value of an instant query; None when the result is empty or NaN."""
        url = f"{self.base_url}/api/v1/query?{urllib.parse.urlencode({'query': expr})}"
        try:
            with _DIRECT.open(url, timeout=self.timeout) as resp:
                payload = json.load(resp)
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")[:300]
            raise PrometheusError(f"query {expr!r} rejected: {detail}") from exc
        except (OSError, ValueError) as exc:
            raise PrometheusError(f"Prometheus at {self.base_url} unreachable: {exc}") from exc
        if payload.get("status") != "success":
            raise PrometheusError(f"query {expr!r} failed: {payload.get('error')}")
        data = payload["data"]
        if data["resultType"] == "scalar":
            value = float(data["result"][1])
        elif data["result"]:
            value = float(data["result"][0]["value"][1])
        else:
            return None
        return None if math.isnan(value) or math.isinf(value) else value

    def ready(self) -> bool:
        try:
            with _DIRECT.open(f"{self.base_url}/-/ready", timeout=self.timeout) as resp:
                return bool(resp.status == 200)
        except OSError:
            return False
