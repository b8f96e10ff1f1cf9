"""The real stack for end-to-end tests (the trained model, Rasa, the action server and the
gateway as child processes on free ports), driven from a private event loop in a thread so
sync and async tests alike can use it. One starter for every e2e stack.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest

from bot.supervision import HealPolicy, Supervisor
from bot.supervisor import ROOT, Stack, free_port

MODEL = ROOT / "models" / "assistant.tar.gz"
T = TypeVar("T")


class RunningStack:
    """A Stack driven from a private event loop in a thread."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self._stop_supervising: asyncio.Event | None = None
        self._supervising: Any = None

    def supervise(self, policy: HealPolicy) -> Supervisor:
        """Heal the stack as `make run` does (a child killed by a test comes back)."""
        supervisor = Supervisor(self.stack, policy)
        self._stop_supervising = asyncio.Event()
        self._supervising = asyncio.run_coroutine_threadsafe(supervisor.run(self._stop_supervising), self.loop)
        return supervisor

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 300) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        if self._stop_supervising is not None:
            self.loop.call_soon_threadsafe(self._stop_supervising.set)
            self._supervising.result(30)
        self.call(self.stack.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@contextmanager
def running_stack(
    env: dict[str, str], *, healthy_within: float, heal: HealPolicy | None = None, what: str = "the stack"
) -> Iterator[Stack]:
    """Start the stack in `env` (its logs under STACK_WORK_DIR/logs), wait until it is healthy,
    optionally supervise it; on failure, fail the test with the tail of every child's log."""
    work = Path(env["STACK_WORK_DIR"])
    running = RunningStack(
        Stack(
            env=env,
            rasa_port=free_port(),
            action_port=free_port(),
            gateway_port=free_port(),
            model=MODEL,
            quiet=True,
            log_dir=work / "logs",
        )
    )
    try:
        running.call(running.stack.start())
        running.call(running.stack.wait_healthy(timeout=healthy_within))
        if heal is not None:
            running.stack.supervisor = running.supervise(heal)  # type: ignore[attr-defined]
    except BaseException:
        logs = "\n".join(f"--- {p.name}\n{p.read_text()[-4000:]}" for p in sorted((work / "logs").glob("*.log")))
        running.close()
        pytest.fail(f"{what} did not start:\n{logs}")
    try:
        yield running.stack
    finally:
        running.close()
