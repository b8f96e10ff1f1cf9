"""Several Rasa servers: a conversation stays on one, and moves when it is down."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import httpx
import pytest

from bot.rasa import RasaClient, RasaFailure, RasaMetadata
from bot.rasa_pool import RasaPool, server_order
from bot.settings import GatewaySettings

META = RasaMetadata(channel="web", customer_id=None, locale="en")


class Servers:
    """Fake Rasa servers by host name; `down` ones refuse connections."""

    def __init__(self, names: list[str]) -> None:
        self.names = names
        self.down: set[str] = set()
        self.slow: set[str] = set()
        self.turns: list[tuple[str, str]] = []  # (server, conversation)

    def handler(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        if host in self.down:
            raise httpx.ConnectError("refused", request=request)
        if host in self.slow:
            raise httpx.ReadTimeout("slow", request=request)
        sender = json.loads(request.content)["sender"]
        self.turns.append((host, sender))
        return httpx.Response(200, json=[{"text": f"from {host}"}])

    def pool(self, clock: Any = None) -> RasaPool:
        http = httpx.AsyncClient(transport=httpx.MockTransport(self.handler))
        clients = [RasaClient(http, base_url=f"http://{n}:5005", token="t" * 16, timeout_seconds=1.0) for n in self.names]
        return RasaPool(clients, retry_after=5.0, **({"clock": clock} if clock else {}))


def test_order_is_stable_and_spreads_conversations() -> None:
    assert server_order("abc", 3) == server_order("abc", 3)
    first = Counter(server_order(f"conversation-{i}", 2)[0] for i in range(400))
    assert 150 < first[0] < 250 and first[0] + first[1] == 400


async def test_a_conversation_stays_on_one_server() -> None:
    servers = Servers(["rasa-a", "rasa-b"])
    pool = servers.pool()
    for conversation in ("c1", "c2", "c3", "c4", "c5", "c6"):
        for _ in range(3):
            await pool.send(sender=conversation, message="hi", metadata=META)
    by_conversation: dict[str, set[str]] = {}
    for host, sender in servers.turns:
        by_conversation.setdefault(sender, set()).add(host)
    assert all(len(hosts) == 1 for hosts in by_conversation.values())
    assert {h for hosts in by_conversation.values() for h in hosts} == {"rasa-a", "rasa-b"}  # both used


async def test_a_dead_server_loses_no_turn_and_comes_back_later() -> None:
    now = [0.0]
    servers = Servers(["rasa-a", "rasa-b"])
    pool = servers.pool(clock=lambda: now[0])
    conversation = next(c for c in (f"c{i}" for i in range(50)) if server_order(c, 2)[0] == 0)  # lives on rasa-a
    await pool.send(sender=conversation, message="one", metadata=META)
    servers.down.add("rasa-a")
    replies = await pool.send(sender=conversation, message="two", metadata=META)
    assert replies[0].text == "from rasa-b"
    await pool.send(sender=conversation, message="three", metadata=META)
    assert [h for h, _ in servers.turns] == ["rasa-a", "rasa-b", "rasa-b"]  # a down server is not retried at once
    servers.down.clear()
    now[0] = 10.0
    await pool.send(sender=conversation, message="four", metadata=META)
    assert servers.turns[-1][0] == "rasa-a"


async def test_all_down_is_down_and_a_timeout_is_not_retried_elsewhere() -> None:
    servers = Servers(["rasa-a", "rasa-b"])
    pool = servers.pool()
    servers.down.update({"rasa-a", "rasa-b"})
    with pytest.raises(RasaFailure) as down:
        await pool.send(sender="c1", message="hi", metadata=META)
    assert down.value.kind == "down"
    servers.down.clear()
    servers.slow.update({"rasa-a", "rasa-b"})
    with pytest.raises(RasaFailure) as slow:
        await pool.send(sender="c1", message="hi", metadata=META)
    assert slow.value.kind == "timeout"
    assert servers.turns == []


def test_settings_list_every_server() -> None:
    assert GatewaySettings(rasa_url="http://r:1/").rasa_servers == ["http://r:1"]
    settings = GatewaySettings(rasa_urls=" http://a:1/, http://b:2 ,")
    assert settings.rasa_servers == ["http://a:1", "http://b:2"]


async def test_the_turn_id_reaches_rasa_through_the_pool() -> None:
    # Recovery matches Rasa's tracker to the transcript by the stored message id.
    seen: list[object] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content).get("message_id"))
        return httpx.Response(200, json=[{"text": "ok"}])

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    pool = RasaPool([RasaClient(http, base_url=f"http://{n}:5005", token="t" * 16, timeout_seconds=1.0) for n in "ab"])
    await pool.send(sender="c1", message="hi", metadata=META, message_id="42")
    assert seen == ["42"]
