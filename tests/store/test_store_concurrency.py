"""Several drill processes writing one store at once lose nothing.

Four processes open the same *fresh* store together (racing the migration too), then each
records 200 deployments, one transaction apiece, plus an overlapping import; the counts
must be exact.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time

import pytest
from sqlalchemy import func, select

from harness.store import Store
from harness.store.db import _switch_to_wal
from harness.store.schema import deployments

PROCESSES = 4
EACH = 200

WORKER = r"""
import sys, time
from datetime import datetime, timedelta, timezone
from harness.store import Deployment, Store

url, worker, each, start_at = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
while time.time() < start_at:
    time.sleep(0.001)
base = datetime(2026, 10, 1, tzinfo=timezone.utc)
with Store.open(url) as store:
    new = sum(
        store.record_deployment(Deployment(f"model-{worker}", str(i), base + timedelta(seconds=i)))
        for i in range(each)
    )
    # The same shared rows from every process: exactly one insert of each must win.
    shared = [Deployment("shared", str(i), base) for i in range(50)]
    won = store.import_events(shared).deployments_inserted
print(new, won)
"""


def test_concurrent_writers_lose_nothing(store_url: str) -> None:
    start_at = time.time() + 1.5  # every process is started and importing by then
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, store_url, str(w), str(EACH), str(start_at)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for w in range(PROCESSES)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    for proc, (_, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
    results = [tuple(map(int, out.split())) for out, _ in outputs]
    assert [new for new, _ in results] == [EACH] * PROCESSES
    assert sum(won for _, won in results) == 50

    with Store.open(store_url) as store, store._engine.connect() as conn:  # noqa: SLF001
        total = conn.execute(select(func.count()).select_from(deployments)).scalar_one()
    assert total == PROCESSES * EACH + 50


class _LockedCursor:
    """A sqlite3 cursor whose first ``locked`` WAL switches fail as they do while another process holds the file."""

    def __init__(self, locked: int, message: str = "database is locked") -> None:
        self.locked, self.message, self.calls = locked, message, 0

    def execute(self, sql: str) -> None:
        self.calls += 1
        if self.calls <= self.locked:
            raise sqlite3.OperationalError(self.message)


def test_switching_a_fresh_store_to_wal_waits_out_another_process() -> None:
    cursor = _LockedCursor(locked=3)
    _switch_to_wal(cursor)
    assert cursor.calls == 4
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        _switch_to_wal(_LockedCursor(locked=10_000), patience_s=0.05)  # bounded: it gives up
    with pytest.raises(sqlite3.OperationalError, match="disk I/O"):
        _switch_to_wal(_LockedCursor(locked=1, message="disk I/O error"))  # only "locked" is waited out
