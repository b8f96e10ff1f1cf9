"""Argon2 on a small pool of its own, with a bounded queue.

Argon2 is slow and memory-hard on purpose (tens of milliseconds of CPU per
check). Run on asyncio's default pool, a flood of sign-in attempts filled the
threads every chat's database work waits for. Here at most `workers` hashes
run at once and at most `max_waiting` more wait; past that the caller hears
`HashingBusy` at once (the sign-in page answers 503 with Retry-After) instead
of queueing without end.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from bot.staff import passwords

T = TypeVar("T")


class HashingBusy(RuntimeError):
    """Every hashing thread is busy and the queue is full: try again shortly."""


class PasswordHasherPool:
    def __init__(self, *, workers: int = 2, max_waiting: int = 16) -> None:
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="argon2")
        self._capacity = workers + max_waiting
        # Only touched on the event loop's thread, so a plain counter is enough.
        self._in_flight = 0

    @property
    def in_flight(self) -> int:
        return self._in_flight

    async def _run(self, fn: Callable[[], T]) -> T:
        if self._in_flight >= self._capacity:
            raise HashingBusy
        self._in_flight += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, fn)
        finally:
            self._in_flight -= 1

    async def verify(self, password_hash: str | None, password: str) -> bool:
        return await self._run(functools.partial(passwords.verify_password, password_hash, password))

    async def needs_rehash(self, password_hash: str) -> bool:
        return passwords.needs_rehash(password_hash)  # parses parameters only: no hashing

    async def rehash(self, password: str) -> str:
        return await self._run(functools.partial(passwords.rehash, password))

    async def hash_new(self, password: str) -> str:
        """A new password's hash; WeakPassword for one that breaks the rules."""
        passwords.check_strength(password)
        return await self._run(functools.partial(passwords.hash_password, password))

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
