"""Frames for everyone watching a conversation: every tab of a widget session,
and (later) every staff console showing it.

`LocalFanout` reaches listeners in this process. `RedisFanout` publishes
through Redis so listeners on every gateway sharing it get the frame - the
publishing gateway included, which is why it does not also deliver locally.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)

Frame = dict[str, Any]
# Called in the event loop; must not block (widget connections only enqueue).
Listener = Callable[[Frame], None]


class LocalFanout:
    def __init__(self) -> None:
        self._listeners: dict[str, set[Listener]] = {}

    def subscribe(self, key: str, listener: Listener) -> Callable[[], None]:
        self._listeners.setdefault(key, set()).add(listener)

        def unsubscribe() -> None:
            listeners = self._listeners.get(key)
            if listeners is not None:
                listeners.discard(listener)
                if not listeners:
                    del self._listeners[key]

        return unsubscribe

    async def publish(self, key: str, frame: Frame) -> None:
        self.deliver(key, frame)

    def deliver(self, key: str, frame: Frame) -> None:
        for listener in list(self._listeners.get(key, ())):
            listener(frame)

    def listeners(self, key: str) -> int:
        return len(self._listeners.get(key, ()))

    async def start(self) -> None:
        return None

    async def aclose(self) -> None:
        return None


class RedisFanout(LocalFanout):
    def __init__(self, redis: Any, *, prefix: str = "gateway:fanout:") -> None:
        super().__init__()
        self._redis = redis
        self._prefix = prefix
        self._task: asyncio.Task[None] | None = None
        self._pubsub: Any = None

    async def publish(self, key: str, frame: Frame) -> None:
        from redis.exceptions import RedisError

        try:
            await self._redis.publish(self._prefix + key, json.dumps(frame))
        except (RedisError, OSError):
            # Redis is away: tabs on this gateway still get the frame; the others
            # find it in their history (every message is in the transcript).
            logger.warning("fan-out could not reach Redis; delivering on this gateway only")
            self.deliver(key, frame)

    async def start(self) -> None:
        await self._subscribe()
        self._task = asyncio.create_task(self._listen())

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._pubsub is not None:
            await self._pubsub.aclose()

    async def _subscribe(self) -> None:
        # One pattern for all conversations: simple, and fine for a shop's traffic.
        self._pubsub = self._redis.pubsub()
        await self._pubsub.psubscribe(self._prefix + "*")
        # Wait for Redis to confirm, so nothing published after start() is missed.
        while True:
            message = await self._pubsub.get_message(timeout=5.0)
            if message is None:
                raise TimeoutError("Redis did not confirm the fan-out subscription")
            if message["type"] == "psubscribe":
                return

    async def _listen(self) -> None:
        from redis.exceptions import ConnectionError as RedisConnectionError

        delay = 0.5
        while True:
            try:
                async for message in self._pubsub.listen():
                    delay = 0.5
                    if message["type"] != "pmessage":
                        continue
                    channel = message["channel"]
                    channel = channel.decode() if isinstance(channel, bytes) else channel
                    self.deliver(channel[len(self._prefix) :], json.loads(message["data"]))
            except (RedisConnectionError, TimeoutError, OSError):
                # Live frames are lost while Redis is away; the transcript is not,
                # and widgets see it in their history when they reconnect.
                logger.warning("fan-out lost its Redis connection; retrying in %.1fs", delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
                try:
                    await self._pubsub.aclose()
                    await self._subscribe()
                except (RedisConnectionError, TimeoutError, OSError):
                    continue
