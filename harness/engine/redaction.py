"""Secrets never land in a result, a report, the store or a log: URLs are shown as scheme://host/… only.

    register("https://hooks.example/T0/B0/XYZ")   # a webhook this process will post to
    scrub("InvalidURL: '/T0/B0/XYZ x'")           # -> "InvalidURL: '/…'"

The path and query of an incoming-webhook URL are its secret. Every URL the harness posts to is registered,
and every exception text is scrubbed before it is stored or printed (a runbook step's error, a run's reason,
the webhook listener's log lines), whichever library wrote it (urllib, http.client, pydantic).
"""

from __future__ import annotations

import threading
import unicodedata
from urllib.parse import urlsplit

_SECRETS: set[str] = set()
_LOCK = threading.Lock()


def redact_url(url: str) -> str:
    """scheme://host[:port]/… : enough to say where, not the token in the path or query."""
    try:
        parts = urlsplit(url)
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<a URL that cannot be parsed>"
    tail = "/…" if parts.path.strip("/") or parts.query else ""
    return f"{parts.scheme}://{parts.hostname or '?'}{port}{tail}"


def unsafe_characters(text: str) -> bool:
    """Whitespace or a control character anywhere (a URL with them is refused; http.client would echo it)."""
    return any(ch.isspace() or unicodedata.category(ch).startswith("C") for ch in text)


def register(url: str) -> None:
    """Remember ``url``'s secret parts (path, query, userinfo) so that ``scrub`` removes them from any text."""
    try:
        parts = urlsplit(url)
    except ValueError:
        parts = None
    pieces = {url, url.strip()}
    if parts is not None:
        pieces |= {parts.path + (f"?{parts.query}" if parts.query else ""), parts.path, parts.query,
                   parts.netloc.rpartition("@")[0]}
    with _LOCK:
        _SECRETS.update(p for p in pieces if len(p.strip("/")) > 1)


def scrub(text: str) -> str:
    """``text`` with every registered secret replaced by ``/…`` (a whole URL by its redacted form)."""
    with _LOCK:
        secrets = sorted(_SECRETS, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, redact_url(secret) if "://" in secret else "/…")
    return text
