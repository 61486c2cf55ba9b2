"""Webhooks that reach people: POST ``{"text": ...}`` (the shape chat incoming webhooks accept).

    post_text("https://hooks.example/T0/B0/XYZ", "rolling back fraud v3 -> v2", timeout=5.0)

`post_text` raises `StepFailed` naming the host on a non-2xx answer, a connection error or a timeout;
the runbook's ``notify`` action lets that fail the step. `WebhookListener` sends a run's start,
decision and result the same way when a drill names ``notify: {webhook: URL}``; it posts from its own
thread (a slow chat server must not slow the rollback it reports) and only logs its failures: a
listener may fail, the run may not.

Proxies from the environment are honoured except for loopback hosts (127.0.0.1, ::1, localhost),
which are always reached directly. Only the scheme and host of a URL appear in messages: the path
of an incoming-webhook URL is its secret.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import ClassVar
from urllib.parse import urlsplit

from harness.engine import redaction
from harness.engine.events import Decided, Event, RunFinished, RunStarted
from harness.errors import StepFailed

log = logging.getLogger(__name__)
LOOPBACK = ("127.0.0.1", "::1", "localhost")
USER_AGENT = "drill-harness webhook"


def redact(url: str) -> str:
    """scheme://host[:port]/… : enough to say where, not the token in the path or query."""
    return redaction.redact_url(url)


def valid_url(url: str) -> bool:
    """An http(s) URL with a host and no whitespace or control character anywhere."""
    if redaction.unsafe_characters(url):
        return False
    try:
        parts = urlsplit(url)
        return parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        return False


def _opener(url: str) -> urllib.request.OpenerDirector:
    if urlsplit(url).hostname in LOOPBACK:
        return urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never through a proxy
    return urllib.request.build_opener()


def post_json(url: str, payload: Mapping[str, object], timeout: float) -> int:
    """POST ``payload`` as JSON; the HTTP status (2xx), else StepFailed with a clear reason."""
    redaction.register(url)
    if not valid_url(url):
        raise StepFailed(f"webhook URL {redact(url)} is not an http(s) URL without whitespace or control characters")
    body = json.dumps(payload).encode("utf-8")
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json", "User-Agent": USER_AGENT})
    where = redact(url)
    try:
        with _opener(url).open(request, timeout=timeout) as response:
            status = int(response.status)
            response.read(65536)
    except urllib.error.HTTPError as exc:
        detail = exc.read(200).decode("utf-8", "replace").strip()
        raise StepFailed(f"webhook {where} answered {exc.code} {exc.reason}" + (f": {detail}" if detail else "")) from None
    except TimeoutError:
        raise StepFailed(f"webhook {where}: no answer within {timeout:g}s") from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, TimeoutError):
            raise StepFailed(f"webhook {where}: no answer within {timeout:g}s") from None
        raise StepFailed(f"webhook {where} unreachable: {redaction.scrub(str(reason))}") from None
    except OSError as exc:
        raise StepFailed(f"webhook {where} failed: {redaction.scrub(str(exc))}") from None
    except Exception as exc:  # http.client.InvalidURL and the like quote the URL: never past here unscrubbed
        raise StepFailed(f"webhook {where} failed: {type(exc).__name__}: {redaction.scrub(str(exc))}") from None
    if not 200 <= status < 300:
        raise StepFailed(f"webhook {where} answered {status}")
    return status


def post_text(url: str, text: str, timeout: float) -> int:
    return post_json(url, {"text": text}, timeout)


# ---- run notifications ----------------------------------------------------------------------------

def message_for(event: Event, drill: str) -> str | None:
    """The text a person reads for one engine event (None: not worth a message)."""
    if isinstance(event, RunStarted):
        return f"Drill {event.drill} started (run {event.run_id}, profile {event.profile})."
    if isinstance(event, Decided):
        breached = [e.metric for e in event.evidence if e.breached]
        why = f" on {', '.join(breached)}" if breached else ""
        return f"Drill {drill}: decision {event.decision} ({event.trigger}){why}."
    if isinstance(event, RunFinished):
        r = event.result
        took = r.decision_to_completion_s
        timing = (f" Decision to completion {took:.2f} s of the {r.target_s:g} s target." if took is not None else "")
        return f"Drill {r.drill} {r.status.value.upper()}: {r.reason}.{timing} Run {r.run_id}."
    return None


class WebhookListener:
    """Posts a drill's start, decision and result to a webhook from a background thread; never raises."""

    EVENTS: ClassVar[dict[str, type[Event]]] = {"start": RunStarted, "decision": Decided, "result": RunFinished}

    def __init__(self, url: str, drill: str, events: tuple[str, ...] = ("start", "decision", "result"),
                 timeout: float = 5.0) -> None:
        self.url, self.drill, self.timeout = url, drill, timeout
        redaction.register(url)
        self.kinds = tuple(self.EVENTS[e] for e in events)
        self.sent = 0
        self.failures: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._worker, name="drill-webhook", daemon=True)
        self._thread.start()

    def on_event(self, event: Event) -> None:
        try:
            text = message_for(event, self.drill) if isinstance(event, self.kinds) else None
            if text is not None:
                self._queue.put(text)
            if isinstance(event, RunFinished):
                self.close()
        except Exception as exc:  # noqa: BLE001 - a listener may fail; the run may not
            log.warning("webhook listener: %s", redaction.scrub(str(exc)))

    def close(self) -> None:
        """Send what is queued, bounded: at most one timeout per queued message, then give up."""
        if not self._thread.is_alive():
            return
        pending = self._queue.qsize() + 1
        self._queue.put(None)
        self._thread.join(self.timeout * pending + 1.0)
        if self._thread.is_alive():
            log.warning("webhook %s: gave up waiting for %d message(s)", redact(self.url), self._queue.qsize())

    def _worker(self) -> None:
        while True:
            text = self._queue.get()
            if text is None:
                return
            try:
                post_text(self.url, text, self.timeout)
                self.sent += 1
            except Exception as exc:  # noqa: BLE001 - StepFailed or anything else: log it, keep the run
                self.failures.append(redaction.scrub(str(exc)))
                log.warning("drill notify (not fatal): %s", redaction.scrub(str(exc)))
