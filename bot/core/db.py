"""Units of work for the event loop: one session per call, in a worker thread.

Writes run on the default thread pool; health checks and history reads run on a
pool and connections of their own, so they never queue behind writes stuck on a
locked database. A turn's own bookkeeping (`note`: its marks, its replies, the
delivery marks, how the message was read) may run on connections whose commits
do not wait for the disk (crm.db.make_engine's `durable=False`): a power cut can
lose the last of them, and the recovery pass (bot/recovery.py) makes good what
it lost. The customer's message itself is stored with `db`, durably, before the
acknowledgement.

SQLite takes one writer at a time. Left alone, every waiting writer polls the
file lock and sleeps between tries (SQLite's busy handler: 1, 2, 5, 10 ... up to
100 ms), so under load a write waited far longer than the writes ahead of it
took (docs/performance.md, third round). With a `OneWriter`, the gateway's own
units of work (`db`, `note`) take turns on a lock in this process instead, and
wait on SQLite only for other processes (the action server, the worker).
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from bot.unit_of_work import run as run_unit

T = TypeVar("T")


class OneWriter:
    """The gateway's writes to one SQLite file, one at a time (see the module doc).

    `timeout`: how long a unit of work waits for its turn before it fails the way a
    locked database fails (OperationalError), so the caller's handling is the same.
    """

    def __init__(self, timeout: float) -> None:
        self._lock = threading.Lock()
        self._timeout = timeout

    @contextmanager
    def turn(self) -> Iterator[None]:
        if not self._lock.acquire(timeout=self._timeout):
            raise OperationalError(
                "(waiting for the gateway's other writes)", {}, TimeoutError("database is locked")
            )
        try:
            yield
        finally:
            self._lock.release()


class UnitOfWork:
    def __init__(
        self,
        sessionmaker: sessionmaker[Session],
        *,
        reads: sessionmaker[Session] | None = None,
        notes: sessionmaker[Session] | None = None,
        writer: OneWriter | None = None,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._reads = reads or sessionmaker
        self._notes = notes or sessionmaker
        self._writer = writer
        self._read_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="db-read")

    async def db(self, fn: Callable[..., T], /, **kwargs: Any) -> T:
        """One unit of work in a worker thread, with a session of its own."""
        return await asyncio.to_thread(functools.partial(self._write, self._sessionmaker, fn, **kwargs))

    async def note(self, fn: Callable[..., T], /, **kwargs: Any) -> T:
        """A unit of the turn's bookkeeping (see the module doc): like `db`, on the notes' connections."""
        return await asyncio.to_thread(functools.partial(self._write, self._notes, fn, **kwargs))

    def _write(self, maker: sessionmaker[Session], fn: Callable[..., T], /, **kwargs: Any) -> T:
        if self._writer is None:
            return run_unit(maker, fn, **kwargs)
        with self._writer.turn():
            return run_unit(maker, fn, **kwargs)

    async def read(self, fn: Callable[..., T], /, **kwargs: Any) -> T:
        """A read on the read connections and threads (never behind a write waiting for a lock)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._read_pool, functools.partial(run_unit, self._reads, fn, **kwargs)
        )

    def close(self) -> None:
        self._read_pool.shutdown(wait=False, cancel_futures=True)
