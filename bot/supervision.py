"""Supervision that heals: restart a child that exits, or that lives but stops answering.

Generic over `Stack.processes` and `Stack.health_urls()`: a new child needs one
entry in `Stack.commands()` (and, if it answers HTTP, one in `health_urls()`).
Restarts back off (1 s, 2 s, 4 s … up to 30 s) and the back-off resets once
the child has stayed healthy for a minute. Before a restart the child's whole
process group is killed, so a worker its dead leader forked cannot keep the
port and make the new one fail with "address already in use".
"""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    from bot.supervisor import Stack


@dataclass(frozen=True)
class HealPolicy:
    check_interval: float = 2.0
    check_timeout: float = 2.0
    # A live child whose health check has failed this long is restarted.
    unhealthy_after: float = 20.0
    # Rasa takes a while to load its model: no verdict before the first healthy answer or this.
    startup_grace: float = 300.0
    backoff_initial: float = 1.0
    backoff_max: float = 30.0
    # Healthy this long after a restart: the next failure starts the back-off afresh.
    stable_after: float = 60.0
    stop_grace: float = 5.0


@dataclass
class _Watch:
    started: float
    attempt: int = 0
    ever_healthy: bool = False
    healthy_since: float | None = None
    failing_since: float | None = None
    restart_due: float | None = None


class Supervisor:
    def __init__(self, stack: Stack, policy: HealPolicy | None = None) -> None:
        self.stack = stack
        self.policy = policy or HealPolicy()
        now = time.monotonic()
        self._watches = {name: _Watch(started=now) for name in stack.processes}
        # Restarts per child, with their reasons (for tests and the operator's eyes).
        self.restarts: dict[str, list[str]] = {name: [] for name in stack.processes}

    async def run(self, stop: asyncio.Event) -> None:
        async with httpx.AsyncClient(timeout=self.policy.check_timeout) as http:
            while not stop.is_set():
                await self.tick(http)
                try:
                    await asyncio.wait_for(stop.wait(), self.policy.check_interval)
                except asyncio.TimeoutError:
                    pass

    async def tick(self, http: httpx.AsyncClient) -> None:
        if self.stack.stopping:
            return
        urls = self.stack.health_urls()
        names = list(self.stack.processes)
        verdicts = await asyncio.gather(*(self._healthy(http, urls.get(name)) for name in names))
        for name, healthy in zip(names, verdicts):
            if self.stack.stopping:
                return
            await self._judge(name, healthy)

    async def _healthy(self, http: httpx.AsyncClient, url: str | None) -> bool | None:
        if url is None:
            return None
        try:
            response = await http.get(url)
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    async def _judge(self, name: str, healthy: bool | None) -> None:
        now = time.monotonic()
        watch = self._watches.setdefault(name, _Watch(started=now))
        self.restarts.setdefault(name, [])
        if watch.restart_due is not None:
            if now >= watch.restart_due:
                await self._start(name, watch)
            return
        proc = self.stack.processes[name]
        if proc.returncode is not None:
            await self._schedule(name, watch, f"exited with code {proc.returncode}")
            return
        if healthy is None:
            return
        if healthy:
            watch.ever_healthy = True
            watch.failing_since = None
            if watch.healthy_since is None:
                watch.healthy_since = now
            elif now - watch.healthy_since >= self.policy.stable_after:
                watch.attempt = 0
            return
        watch.healthy_since = None
        if not watch.ever_healthy and now - watch.started < self.policy.startup_grace:
            return
        if watch.failing_since is None:
            watch.failing_since = now
        if now - watch.failing_since >= self.policy.unhealthy_after:
            await self._schedule(name, watch, f"health check failing for {now - watch.failing_since:.0f}s")

    async def _schedule(self, name: str, watch: _Watch, reason: str) -> None:
        # Whatever is left of it goes: a live leader, a worker whose leader died.
        await self.stack.stop_child(name, self.policy.stop_grace)
        delay = min(self.policy.backoff_max, self.policy.backoff_initial * 2**watch.attempt)
        watch.attempt += 1
        watch.restart_due = time.monotonic() + delay
        self.restarts[name].append(reason)
        _say(f"{name} {reason}; restarting in {delay:.0f}s")

    async def _start(self, name: str, watch: _Watch) -> None:
        try:
            await self.stack.start_child(name)
        except OSError as exc:
            _say(f"{name} could not be started: {exc}")
            watch.restart_due = time.monotonic() + min(
                self.policy.backoff_max, self.policy.backoff_initial * 2**watch.attempt
            )
            watch.attempt += 1
            return
        watch.started = time.monotonic()
        watch.restart_due = None
        watch.ever_healthy = False
        watch.healthy_since = None
        watch.failing_since = None


def _say(line: str) -> None:
    print(f"supervisor | {line}", file=sys.stderr, flush=True)

