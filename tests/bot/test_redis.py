"""Several gateways sharing Redis: fan-out across processes and one turn at a time per conversation.

Needs the Redis at TEST_REDIS_URL (default redis://127.0.0.1:6379/0); skipped
only when none is reachable (the in-process paths are covered elsewhere).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import pytest_asyncio

from bot.core.messages import InboundMessage
from bot.fanout import RedisFanout
from bot.locks import RedisTurnGuard
from tests.fakes.rigs import ServiceRig

pytestmark = pytest.mark.asyncio

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest_asyncio.fixture
async def redis_client() -> AsyncIterator[Any]:
    import redis.asyncio as redis
    from redis.exceptions import ConnectionError as RedisConnectionError

    client = redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except (RedisConnectionError, OSError):
        await client.aclose()
        pytest.skip(f"no Redis at {REDIS_URL}")
    yield client
    await client.aclose()


async def test_a_frame_published_on_one_gateway_reaches_listeners_on_another(redis_client: Any) -> None:
    prefix = f"test:{uuid.uuid4().hex}:"
    first, second = RedisFanout(redis_client, prefix=prefix), RedisFanout(redis_client, prefix=prefix)
    await first.start()
    await second.start()
    try:
        got_first: list[dict[str, Any]] = []
        got_second: list[dict[str, Any]] = []
        first.subscribe("conv-1", got_first.append)
        second.subscribe("conv-1", got_second.append)
        second.subscribe("conv-2", lambda frame: got_second.append({"wrong": frame}))
        await first.publish("conv-1", {"type": "typing", "on": True})
        for _ in range(100):
            if got_first and got_second:
                break
            await asyncio.sleep(0.01)
        assert got_second == [{"type": "typing", "on": True}]
        assert got_first == [{"type": "typing", "on": True}]  # once, not twice
    finally:
        await first.aclose()
        await second.aclose()


def inbound(conversation_id: str, i: int) -> InboundMessage:
    return InboundMessage(
        channel="web",
        conversation_id=conversation_id,
        channel_message_id=f"{conversation_id}:{i}",
        text=f"m{i}",
    )


async def run_split(first: ServiceRig, second: ServiceRig) -> None:
    conversation = await first.conversation()
    first.rasa.delay = 0.05
    tasks = [(first if i % 2 else second).service.submit(inbound(conversation.id, i)) for i in range(8)]
    await asyncio.gather(*tasks)


async def test_two_gateways_never_ask_rasa_about_one_conversation_at_once(
    make_rig: Callable[..., ServiceRig], redis_client: Any
) -> None:
    guard = RedisTurnGuard(redis_client, lease_seconds=30, wait_seconds=10)
    first, second = make_rig(guard=guard), make_rig(guard=guard)
    await run_split(first, second)
    assert len(first.rasa.calls) == 8
    assert first.rasa.max_active_per_sender == 1


async def test_without_the_shared_lock_two_gateways_would_overlap(
    make_rig: Callable[..., ServiceRig],
) -> None:
    # The control for the test above: it is the Redis lock that makes the difference.
    first, second = make_rig(), make_rig()
    await run_split(first, second)
    assert first.rasa.max_active_per_sender == 2


async def test_a_busy_lock_gets_the_customer_the_apology(
    make_rig: Callable[..., ServiceRig], redis_client: Any
) -> None:
    rig = make_rig(guard=RedisTurnGuard(redis_client, lease_seconds=30, wait_seconds=0.2))
    conversation = await rig.conversation()
    # Another gateway holds the conversation and does not let go.
    held = redis_client.lock(f"gateway:turn:{conversation.id}", timeout=30)
    assert await held.acquire()
    try:
        outcome = await rig.service.handle(inbound(conversation.id, 1))
    finally:
        await held.release()
    assert outcome.value == "failed"
    assert rig.rasa.calls == []
    assert "having trouble answering" in rig.channel.texts(conversation.id)[0]
    assert rig.metrics.registry.get_sample_value("gateway_failures_total", {"kind": "lock"}) == 1


async def test_tabs_on_two_gateways_share_one_conversation(
    start_gateway: Callable[..., Any], redis_client: Any
) -> None:
    first = await start_gateway(redis_url=REDIS_URL)
    second = await start_gateway(redis_url=REDIS_URL)
    async with first.connect() as tab_a:
        token = (await tab_a.recv())["session"]
        await tab_a.recv()  # history
        async with second.connect(session=token) as tab_b:
            await tab_b.recv()  # history
            await tab_a.say("c-1", "hello via gateway one")
            reply, _ = await tab_b.recv_until(lambda f: f["type"] == "message" and f["from"] == "bot")
            assert reply["text"] == "echo: hello via gateway one"
            mine, _ = await tab_a.recv_until(lambda f: f["type"] == "message" and f["from"] == "bot")
            assert mine["id"] == reply["id"]


async def test_without_redis_the_turn_lock_fails_closed_with_the_apology(
    make_rig: Callable[..., ServiceRig],
) -> None:
    import redis.asyncio as redis

    from tests.fakes.gateway import free_port

    client = redis.from_url(f"redis://127.0.0.1:{free_port()}", socket_connect_timeout=0.5)
    rig = make_rig(guard=RedisTurnGuard(client, lease_seconds=30, wait_seconds=1))
    conversation = await rig.conversation()
    outcome = await rig.service.handle(inbound(conversation.id, 1))
    assert outcome.value == "failed"
    assert rig.rasa.calls == []
    assert "having trouble answering" in rig.channel.texts(conversation.id)[0]
    await client.aclose()
