"""The Rasa client: what it sends, what it accepts, and how each failure is named."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import pytest

from bot.core.messages import Button
from bot.rasa import BotReply, RasaClient, RasaFailure, RasaMetadata, check_url, parse_replies
from tests.fakes.gateway import free_port

META = RasaMetadata(channel="web", customer_id=None, locale="en")


def client(handler: Any, *, timeout: float = 1.0, token: str = "tok-0123456789abcdef") -> RasaClient:
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return RasaClient(http, base_url="http://rasa.test/", token=token, timeout_seconds=timeout)


@pytest.mark.asyncio
async def test_the_request_is_the_gateway_channel_webhook_with_token_and_metadata() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=[{"recipient_id": "c1", "text": "hi"}])

    replies = await client(handler).send(
        sender="c1", message="hello", metadata=RasaMetadata(channel="web", customer_id="C001", locale="en")
    )
    (request,) = seen
    assert str(request.url) == "http://rasa.test/webhooks/gateway/webhook"
    assert request.headers["authorization"] == "Bearer tok-0123456789abcdef"
    assert json.loads(request.content) == {
        "sender": "c1",
        "message": "hello",
        "metadata": {"channel": "web", "customer_id": "C001", "locale": "en"},
    }
    assert replies == [BotReply(text="hi")]


@pytest.mark.asyncio
async def test_no_token_means_no_authorization_header() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=[{"text": "x"}])

    await client(handler, token="").send(sender="c", message="m", metadata=META)
    assert "authorization" not in seen[0].headers


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("response", "kind"),
    [
        (httpx.Response(500, json={"error": "boom"}), "http_error"),
        (httpx.Response(403, json={"error": "token"}), "http_error"),
        (httpx.Response(200, text="<html>"), "malformed"),
        (httpx.Response(200, json={"text": "not a list"}), "malformed"),
    ],
)
async def test_bad_answers_are_named(response: httpx.Response, kind: str) -> None:
    with pytest.raises(RasaFailure) as failure:
        await client(lambda request: response).send(sender="c", message="m", metadata=META)
    assert failure.value.kind == kind


@pytest.mark.asyncio
async def test_nothing_listening_is_down() -> None:
    # A real connection attempt to a port nobody listens on.
    async with httpx.AsyncClient() as http:
        rasa = RasaClient(http, base_url=f"http://127.0.0.1:{free_port()}", token="", timeout_seconds=2)
        with pytest.raises(RasaFailure) as failure:
            await rasa.send(sender="c", message="m", metadata=META)
    assert failure.value.kind == "down"


@pytest.mark.asyncio
async def test_the_deadline_covers_the_whole_call() -> None:
    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(5)
        return httpx.Response(200, json=[])

    started = time.monotonic()
    with pytest.raises(RasaFailure) as failure:
        await client(slow, timeout=0.2).send(sender="c", message="m", metadata=META)
    assert failure.value.kind == "timeout"
    assert time.monotonic() - started < 1


def test_a_full_reply_is_parsed() -> None:
    (reply,) = parse_replies(
        [
            {
                "recipient_id": "c1",
                "text": "Pick one",
                "buttons": [{"title": "Yes", "payload": "/affirm"}],
                "image": "https://x/y.png",
                "custom": {"handoff": {"reason": "request_human"}},
            }
        ]
    )
    assert reply.buttons == (Button(title="Yes", payload="/affirm"),)
    assert reply.image == "https://x/y.png"
    assert reply.handoff == {"reason": "request_human"}
    assert reply.visible


def test_a_bare_custom_payload_is_not_visible() -> None:
    (reply,) = parse_replies([{"custom": {"handoff": {"reason": "fallback"}}}])
    assert not reply.visible and reply.handoff is not None


@pytest.mark.parametrize(
    "data",
    [
        [1],
        [{"text": 5}],
        [{"buttons": "yes"}],
        [{"buttons": [{"title": "no payload"}]}],
        [{"buttons": ["x"]}],
        [{"custom": "handoff"}],
        [{"custom": {"handoff": True}}],
        [{"image": 3}],
    ],
)
def test_malformed_items_are_refused_whole(data: Any) -> None:
    with pytest.raises(RasaFailure) as failure:
        parse_replies(data)
    assert failure.value.kind == "malformed"


@pytest.mark.asyncio
async def test_check_url_names_the_problem() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/down":
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200 if request.url.path == "/ok" else 502)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        assert await check_url(http, "http://x/ok", timeout=1) == "ok"
        assert await check_url(http, "http://x/down", timeout=1) == "down"
        assert await check_url(http, "http://x/bad", timeout=1) == "http 502"


@pytest.mark.asyncio
async def test_at_most_max_in_flight_turns_reach_rasa_and_the_rest_are_served_in_order() -> None:
    inside: list[str] = []
    most = 0
    order: list[str] = []
    release = asyncio.Event()

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal most
        sender = json.loads(request.content)["sender"]
        inside.append(sender)
        order.append(sender)
        most = max(most, len(inside))
        await release.wait()
        inside.remove(sender)
        return httpx.Response(200, json=[{"text": f"answer for {sender}"}])

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    rasa = RasaClient(http, base_url="http://rasa.test/", token="", timeout_seconds=5, max_in_flight=2)
    turns = []
    for i in range(6):
        turns.append(asyncio.create_task(rasa.send(sender=f"c{i}", message="m", metadata=META)))
        await asyncio.sleep(0.01)  # they arrive in this order
    await asyncio.sleep(0.05)
    assert sorted(inside) == ["c0", "c1"]  # the other four wait outside Rasa
    release.set()
    replies = await asyncio.gather(*turns)
    assert [r[0].text for r in replies] == [f"answer for c{i}" for i in range(6)]
    assert most == 2
    assert order == [f"c{i}" for i in range(6)]  # first come, first served


@pytest.mark.asyncio
async def test_a_turn_that_waits_for_its_place_past_the_deadline_is_a_timeout() -> None:
    release = asyncio.Event()

    async def handler(request: httpx.Request) -> httpx.Response:
        await release.wait()
        return httpx.Response(200, json=[{"text": "late"}])

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    rasa = RasaClient(http, base_url="http://rasa.test/", token="", timeout_seconds=0.3, max_in_flight=1)
    first = asyncio.create_task(rasa.send(sender="a", message="m", metadata=META))
    await asyncio.sleep(0.05)
    started = time.monotonic()
    with pytest.raises(RasaFailure) as failure:
        await rasa.send(sender="b", message="m", metadata=META)  # never admitted: "a" holds the place
    assert failure.value.kind == "timeout"
    assert time.monotonic() - started < 1.0
    with pytest.raises(RasaFailure):
        await first  # Rasa itself never answered "a" in time either
    release.set()
    # The places were given back: a new turn is admitted and answered.
    assert (await rasa.send(sender="c", message="m", metadata=META))[0].text == "late"
