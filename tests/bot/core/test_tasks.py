"""bot/core/tasks.py: background tasks are tracked, their failures logged, and drained on shutdown."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.core.tasks import Background


async def test_drain_waits_for_quick_tasks_and_cancels_slow_ones() -> None:
    background = Background()
    quick = background.spawn(asyncio.sleep(0.01, result="done"))
    slow = background.spawn(asyncio.sleep(30))
    await background.drain(timeout=0.2)
    assert quick.result() == "done"
    assert slow.cancelled()


async def test_a_failing_task_is_logged_not_lost(caplog: pytest.LogCaptureFixture) -> None:
    async def boom() -> None:
        raise RuntimeError("boom")

    background = Background()
    task = background.spawn(boom())
    await asyncio.gather(task, return_exceptions=True)
    await asyncio.sleep(0)
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR] == [
        "message handling failed"
    ]
    await background.drain(timeout=0.1)  # nothing left
