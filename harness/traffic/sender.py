"""The load generator's sender: a process of its own that sends requests on schedule with aiohttp.

Why a process: at production rates the harness's own work (the judge looks at every sample twice a
second, the live view, the runbook) holds the GIL for tens of milliseconds at a time, and a sender in a
thread of the same process then sends late, in bursts. A sender process keeps the schedule whatever
the run does; it stamps each request itself (send time, latency) and hands raw answers back in
batches on its stdout (pickled: it is our own child), and the run's process reads them with the serving
protocol (ground truth stays with the protocol and the live slot map, which only the run has). It is
started as ``python -m harness.traffic.sender`` (never a fork, never a re-import of the caller's script),
reads its plan from stdin, and stops when stdin closes: when the run stops it, or when the run dies.

Open-loop: request *n* goes out at ``schedule.time_of(n)`` whether or not earlier ones were answered;
``connections`` bounds those in flight, and a request that waits for a free connection counts the wait in
its latency, as a client sees it. One asyncio loop, aiohttp's keep-alive pool and C HTTP parser.
"""

from __future__ import annotations

import asyncio
import pickle
import random
import resource
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO

if TYPE_CHECKING:
    from harness.traffic.profile import Schedule

BATCH_S = 0.05  # how often answers go back to the run


@dataclass(frozen=True)
class SenderPlan:
    """Everything the sender needs, picklable: where, what (request bodies), when, how many at once."""

    url: str
    method: str
    headers: dict[str, str]
    bodies: Sequence[bytes]
    schedule: Schedule
    connections: int
    timeout: float
    seed: int


# Answer: (example index, sent epoch, latency s, status (0: no answer), lower-cased headers, body)
Answer = tuple[int, float, float, int, dict[str, str], bytes]


Send = Callable[[tuple[Any, ...]], None]


def main(stdin: BinaryIO = sys.stdin.buffer, stdout: BinaryIO = sys.stdout.buffer) -> int:
    """The sender process: the plan from stdin; ("start", epoch), ("answers", [...], [send epochs of the requests
    started since the last batch], epoch of this report)..., ("end", cpu_s) on stdout; stop at the end of stdin."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the run's to handle: it stops us in teardown
    plan: SenderPlan = pickle.load(stdin)  # noqa: S301 - written by our own parent
    stop = threading.Event()

    def watch() -> None:
        stdin.read()  # returns at EOF: the run closed our stdin (or died)
        stop.set()

    threading.Thread(target=watch, daemon=True).start()

    def send(message: tuple[Any, ...]) -> None:
        pickle.dump(message, stdout, protocol=pickle.HIGHEST_PROTOCOL)
        stdout.flush()

    try:
        asyncio.run(_main(plan, send, stop))
    finally:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        try:
            send(("end", usage.ru_utime + usage.ru_stime))
        except OSError:
            pass  # the run has gone
    return 0


async def _main(plan: SenderPlan, send: Send, stop: threading.Event) -> None:
    import aiohttp  # here, in the sender process only: the run's process never loads it

    rng = random.Random(plan.seed)
    answers: list[Answer] = []
    pending: set[asyncio.Task[None]] = set()
    connector = aiohttp.TCPConnector(limit=plan.connections, ttl_dns_cache=None, enable_cleanup_closed=True)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=plan.timeout),
                                     auto_decompress=False,
                                     skip_auto_headers=("User-Agent", "Accept-Encoding")) as session:

        async def one(index: int, sent: float) -> None:
            started = time.perf_counter()
            status, headers, body = 0, {}, b""
            try:
                async with session.request(plan.method, plan.url, data=plan.bodies[index],
                                           headers=plan.headers) as resp:
                    body = await resp.read()
                    status = resp.status
                    headers = {k.lower(): v for k, v in resp.headers.items()}
            except (TimeoutError, aiohttp.ClientError, OSError):
                status = 0
            answers.append((index, sent, time.perf_counter() - started, status, headers, body))

        loop = asyncio.get_running_loop()
        t0 = loop.time()
        send(("start", time.time()))
        # A request's send time is stamped when it is started and reported with the next batch, so the run knows
        # exactly which requests went before any moment, answered or not.
        n, flushed, started_at = 0, t0, []
        while not stop.is_set():
            elapsed = loop.time() - t0
            while plan.schedule.time_of(n + 1) <= elapsed:  # all that is due goes now: a late wake-up keeps the rate
                n += 1
                sent = time.time()
                started_at.append(sent)
                task = asyncio.create_task(one(rng.randrange(len(plan.bodies)), sent))
                pending.add(task)
                task.add_done_callback(pending.discard)
            if loop.time() - flushed >= BATCH_S:
                flushed = loop.time()
                _flush(send, answers, started_at)
            wait = plan.schedule.time_of(n + 1) - (loop.time() - t0)
            await asyncio.sleep(min(max(wait, 0.0), BATCH_S))
        if pending:  # in-flight requests finish; each is bounded by the timeout
            await asyncio.wait(pending, timeout=plan.timeout + 1)
        _flush(send, answers, started_at)


def _flush(send: Send, answers: list[Answer], started_at: list[float]) -> None:
    batch, sent = answers[:], started_at[:]
    answers.clear()
    started_at.clear()
    send(("answers", batch, sent, time.time()))


if __name__ == "__main__":
    sys.exit(main())
