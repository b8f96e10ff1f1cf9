from __future__ import annotations

import asyncio

import pytest

from bot.locks import KeyedFifo

pytestmark = pytest.mark.asyncio


async def test_turns_run_one_at_a_time_in_the_order_they_were_taken() -> None:
    fifo = KeyedFifo()
    order: list[int] = []
    active = 0
    peak = 0

    async def work(turn_no: int, turn: object) -> None:
        nonlocal active, peak
        await turn.wait()  # type: ignore[attr-defined]
        try:
            active += 1
            peak = max(peak, active)
            order.append(turn_no)
            await asyncio.sleep(0.001 * ((turn_no * 7) % 5))  # uneven work
        finally:
            active -= 1
            turn.release()  # type: ignore[attr-defined]

    turns = [fifo.enter("k") for _ in range(20)]
    # Started in reverse: the place in line, not the start order, decides.
    await asyncio.gather(*(work(i, t) for i, t in reversed(list(enumerate(turns)))))
    assert order == list(range(20))
    assert peak == 1
    assert len(fifo) == 0  # nothing left behind for an idle key


async def test_different_keys_do_not_wait_for_each_other() -> None:
    fifo = KeyedFifo()
    first = fifo.enter("a")
    await first.wait()
    other = fifo.enter("b")
    await asyncio.wait_for(other.wait(), 0.1)
    other.release()
    first.release()


async def test_a_cancelled_waiter_does_not_let_the_next_one_jump_the_queue() -> None:
    fifo = KeyedFifo()
    holder = fifo.enter("k")
    await holder.wait()
    quitter = fifo.enter("k")
    last = fifo.enter("k")
    waiting = asyncio.create_task(quitter.wait())
    await asyncio.sleep(0)
    waiting.cancel()
    quitter.release()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(asyncio.shield(asyncio.ensure_future(last.wait())), 0.05)
    holder.release()
    await asyncio.wait_for(last.wait(), 0.1)
    last.release()
    assert len(fifo) == 0


async def test_release_twice_is_harmless() -> None:
    fifo = KeyedFifo()
    turn = fifo.enter("k")
    await turn.wait()
    turn.release()
    turn.release()
    nxt = fifo.enter("k")
    await asyncio.wait_for(nxt.wait(), 0.1)
