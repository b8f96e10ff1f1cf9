"""bot/fanout.py: frames reach everyone watching a conversation - in this process (LocalFanout),
or on every gateway sharing Redis (RedisFanout; across gateways: tests/bot/test_redis.py)."""

from __future__ import annotations

from typing import Any

from bot.fanout import LocalFanout, RedisFanout


async def test_a_frame_reaches_every_listener_of_its_key_and_no_other() -> None:
    fanout = LocalFanout()
    tab_one: list[dict[str, Any]] = []
    tab_two: list[dict[str, Any]] = []
    elsewhere: list[dict[str, Any]] = []
    fanout.subscribe("conv-1", tab_one.append)
    fanout.subscribe("conv-1", tab_two.append)
    fanout.subscribe("conv-2", elsewhere.append)
    await fanout.publish("conv-1", {"type": "typing", "on": True})
    assert tab_one == tab_two == [{"type": "typing", "on": True}] and elsewhere == []
    assert (fanout.listeners("conv-1"), fanout.listeners("conv-2"), fanout.listeners("conv-3")) == (2, 1, 0)


async def test_unsubscribing_stops_the_frames_and_forgets_an_empty_key() -> None:
    fanout = LocalFanout()
    got: list[dict[str, Any]] = []
    unsubscribe = fanout.subscribe("conv-1", got.append)
    unsubscribe()
    unsubscribe()  # twice is harmless
    await fanout.publish("conv-1", {"type": "message"})
    assert got == [] and fanout.listeners("conv-1") == 0 and "conv-1" not in fanout._listeners


async def test_a_listener_may_unsubscribe_while_being_delivered_to() -> None:
    fanout = LocalFanout()
    got: list[str] = []
    unsubscribers: list[Any] = []

    def once(frame: dict[str, Any]) -> None:
        got.append(frame["n"])
        unsubscribers[0]()

    unsubscribers.append(fanout.subscribe("conv-1", once))
    fanout.subscribe("conv-1", lambda frame: got.append(f"other {frame['n']}"))
    fanout.deliver("conv-1", {"n": 1})
    fanout.deliver("conv-1", {"n": 2})
    assert sorted(map(str, got)) == ["1", "other 1", "other 2"]


async def test_without_redis_frames_still_reach_this_gateways_tabs() -> None:
    import redis.asyncio as redis

    from tests.fakes.gateway import free_port

    client = redis.from_url(f"redis://127.0.0.1:{free_port()}", socket_connect_timeout=0.5)
    fanout = RedisFanout(client, prefix="test:")
    got: list[dict[str, Any]] = []
    fanout.subscribe("conv-1", got.append)
    await fanout.publish("conv-1", {"type": "typing", "on": False})
    assert got == [{"type": "typing", "on": False}]
    await client.aclose()
