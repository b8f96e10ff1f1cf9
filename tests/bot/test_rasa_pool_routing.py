"""Every call the pool offers goes to the conversation's server, and moves when that one is down."""

from __future__ import annotations

import inspect
import json

import httpx

from bot.rasa import RasaClient
from bot.rasa_pool import RasaPool, server_order


def _public_coroutines(cls: type) -> set[str]:
    return {n for n, f in vars(cls).items() if not n.startswith("_") and inspect.iscoroutinefunction(f)}


def test_the_pool_offers_every_call_of_the_client_with_its_signature() -> None:
    assert _public_coroutines(RasaClient) <= _public_coroutines(RasaPool)
    for name in _public_coroutines(RasaClient):
        assert inspect.signature(getattr(RasaPool, name)) == inspect.signature(getattr(RasaClient, name))


class Tracker:
    """Rasa's HTTP API on two fake hosts; `down` ones refuse connections."""

    def __init__(self) -> None:
        self.down: set[str] = set()
        self.calls: list[tuple[str, str]] = []  # (host, path)

    def handler(self, request: httpx.Request) -> httpx.Response:
        if request.url.host in self.down:
            raise httpx.ConnectError("refused", request=request)
        self.calls.append((request.url.host, request.url.path))
        if request.url.path.endswith("/trigger_intent"):
            return httpx.Response(200, json={"messages": [{"text": f"back on {request.url.host}"}]})
        if request.method == "GET":
            return httpx.Response(200, json={"events": [{"event": "user", "message_id": "7"}]})
        return httpx.Response(200, json={})

    def pool(self) -> RasaPool:
        http = httpx.AsyncClient(transport=httpx.MockTransport(self.handler))
        return RasaPool(
            [RasaClient(http, base_url=f"http://{h}:5005", token="t" * 16, timeout_seconds=1.0) for h in "ab"]
        )


def _living_on(index: int) -> str:
    return next(c for c in (f"c{i}" for i in range(50)) if server_order(c, 2)[0] == index)


async def test_trigger_intent_goes_to_the_conversations_server_then_to_the_next() -> None:
    tracker = Tracker()
    pool = tracker.pool()
    conversation = _living_on(1)
    replies = await pool.trigger_intent(sender=conversation, intent="handed_back", end_active_loop=True)
    assert [r.text for r in replies] == ["back on b"]
    assert {host for host, _ in tracker.calls} == {"b"}
    tracker.down.add("b")
    replies = await pool.trigger_intent(sender=conversation, intent="handed_back")
    assert [r.text for r in replies] == ["back on a"]


async def test_forget_turn_goes_to_the_conversations_server_with_its_arguments() -> None:
    tracker = Tracker()
    pool = tracker.pool()
    conversation = _living_on(0)
    assert await pool.forget_turn(sender=conversation, message_id="7") is True
    assert await pool.forget_turn(sender=conversation, message_id="8") is False
    assert {host for host, _ in tracker.calls} == {"a"}
    assert tracker.calls[1] == ("a", f"/conversations/{conversation}/tracker/events")  # the rewind
