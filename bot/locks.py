"""Per-conversation turns: one message at a time, in the order they arrived.

`KeyedFifo` orders work inside one gateway. A plain asyncio.Lock would do if
every caller reached `acquire()` in arrival order, but callers first do
database work in threads and would overtake each other; here a place in line
is taken synchronously, before anything is awaited.

`RedisTurnGuard` adds mutual exclusion between gateways sharing Redis. It does
not order messages across gateways (nothing short of a queue would); a widget
session talks to one gateway at a time, so in practice order holds.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Protocol

logger = logging.getLogger(__name__)


class Turn:
    def __init__(self, owner: KeyedFifo, key: str, previous: asyncio.Future[None] | None) -> None:
        self._owner = owner
        self._key = key
        self._previous = previous
        self._done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._released = False

    @property
    def done(self) -> asyncio.Future[None]:
        return self._done

    async def wait(self) -> None:
        if self._previous is not None:
            # Shielded: a waiter being cancelled must not cancel the turn ahead of it.
            await asyncio.shield(self._previous)

    def release(self) -> None:
        if self._released:
            return
        self._released = True
        if self._previous is None or self._previous.done():
            self._finish()
        else:
            # Left the line before our turn came: pass it on only once the one ahead
            # is done, so whoever is behind still waits for them.
            self._previous.add_done_callback(lambda _: self._finish())

    def _finish(self) -> None:
        if not self._done.done():
            self._done.set_result(None)
        self._owner._forget(self._key, self._done)


class KeyedFifo:
    def __init__(self) -> None:
        self._tails: dict[str, asyncio.Future[None]] = {}

    def enter(self, key: str) -> Turn:
        """Take the next place in `key`'s line. Synchronous on purpose: see the module doc."""
        turn = Turn(self, key, self._tails.get(key))
        self._tails[key] = turn.done
        return turn

    def _forget(self, key: str, done: asyncio.Future[None]) -> None:
        if self._tails.get(key) is done:
            del self._tails[key]

    def __len__(self) -> int:
        """Keys with work in progress (idle keys are dropped, so this stays small)."""
        return len(self._tails)


class TurnGuard(Protocol):
    def hold(self, key: str) -> AbstractAsyncContextManager[None]: ...


class LocalTurnGuard:
    """One gateway: KeyedFifo already excludes, nothing more to hold."""

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        yield


class TurnUnavailable(Exception):
    """The shared lock could not be taken in time."""


class RedisTurnGuard:
    def __init__(self, redis: object, *, lease_seconds: float, wait_seconds: float) -> None:
        self._redis = redis
        self._lease = lease_seconds
        self._wait = wait_seconds

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        from redis.exceptions import LockError, RedisError

        # The lease outlives the longest turn (Rasa's deadline plus storing), so a
        # crashed gateway frees the conversation without anyone's help.
        lock = self._redis.lock(  # type: ignore[attr-defined]
            f"gateway:turn:{key}", timeout=self._lease, blocking_timeout=self._wait, sleep=0.02
        )
        try:
            acquired = await lock.acquire()
        except (RedisError, OSError) as exc:
            raise TurnUnavailable(key) from exc
        if not acquired:
            raise TurnUnavailable(key)
        try:
            yield
        finally:
            try:
                await lock.release()
            except (LockError, RedisError, OSError):
                # The lease ran out first (or Redis went away): another turn may have overlapped this one.
                logger.warning("conversation turn lost its Redis lock", extra={"lease_seconds": self._lease})
