"""Several Rasa servers behind one gateway, Rasa's own way.

Every server shares the SQL tracker store (PostgreSQL) and Rasa's Redis lock
store, so any of them can take any turn of any conversation. The pool keeps a
conversation on one server while that server answers (rendezvous hashing of
the conversation id: no table to share between gateways, and adding a server
moves only the conversations it wins), and when a server cannot be reached it
sends the turn to the next server in that conversation's order, which loads
the conversation from the shared store: nothing is lost. A server that failed
is skipped for `retry_after` seconds, then tried again.

Only "down" moves a turn (connection refused, or dropped by a server that
died: Rasa saves a conversation at the end of a turn, so a killed server kept
nothing of the turn it did not finish). A timeout may mean the turn is still
running, and running it twice would answer twice: it fails as with one server.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from bot.rasa import RasaClient, RasaFailure

logger = logging.getLogger(__name__)


def server_order(conversation: str, count: int) -> list[int]:
    """Servers for a conversation, preferred first (rendezvous hashing)."""

    def weight(index: int) -> bytes:
        return hashlib.blake2b(f"{index}:{conversation}".encode(), digest_size=8).digest()

    return sorted(range(count), key=weight, reverse=True)


def _routed(method: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """A `RasaClient` method as the pool offers it: the same call, made on the conversation's server."""
    name = method.__name__

    @functools.wraps(method)
    async def routed(self: RasaPool, *, sender: str, **arguments: Any) -> Any:
        return await self._call(sender, lambda client: getattr(client, name)(sender=sender, **arguments))

    routed.__qualname__ = f"RasaPool.{name}"
    return routed


class RasaPool:
    """The `RasaClient` interface over several servers."""

    def __init__(
        self,
        clients: Sequence[RasaClient],
        *,
        retry_after: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not clients:
            raise ValueError("a pool needs at least one Rasa server")
        self._clients = list(clients)
        self._retry_after = retry_after
        self._clock = clock
        self._down_until = [0.0] * len(self._clients)

    def _candidates(self, conversation: str) -> list[int]:
        order = server_order(conversation, len(self._clients))
        now = self._clock()
        up = [i for i in order if self._down_until[i] <= now]
        # When every server looks down, try them all anyway: one may be back.
        return up or order

    async def _call(self, conversation: str, call: Callable[[RasaClient], Any]) -> Any:
        failure: RasaFailure | None = None
        for index in self._candidates(conversation):
            try:
                result = await call(self._clients[index])
            except RasaFailure as exc:
                if exc.kind != "down":
                    raise
                failure = exc
                self._down_until[index] = self._clock() + self._retry_after
                logger.warning("rasa server %d unreachable (%s); its conversations move to the others", index, exc.detail)
                continue
            self._down_until[index] = 0.0
            return result
        assert failure is not None
        raise failure

    send = _routed(RasaClient.send)
    # The trackers are shared: any live server can rewind the conversation's tracker.
    forget_turn = _routed(RasaClient.forget_turn)
    trigger_intent = _routed(RasaClient.trigger_intent)
