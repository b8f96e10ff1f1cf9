"""The widget protocol end to end: a real uvicorn, a real WebSocket client, a stand-in Rasa."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select
from websockets.exceptions import ConnectionClosed

from bot.identity import hash_session_token
from crm.models import Conversation, Customer, Message, Sender
from crm.services.verification_limits import client_fingerprint
from tests.fakes.gateway import Gateway
from tests.fakes.rasa import FakeRasa, RasaCall
from tests.fakes.rigs import messages_of
from tests.fakes.widget import is_bot_message, open_session

pytestmark = pytest.mark.asyncio


def conversation_for(db: Any, token: str) -> Conversation:
    with db() as session:
        conversation = session.scalars(
            select(Conversation).where(Conversation.address == hash_session_token(token))
        ).one()
        return conversation


# -- the happy path -------------------------------------------------------------------------


async def test_a_first_visit_gets_a_session_an_empty_history_and_answers(
    gateway: Gateway, fake_rasa: FakeRasa, db: Any
) -> None:
    async with gateway.connect() as tab:
        token, history = await open_session(tab)
        assert len(token) >= 43 and history == []
        await tab.say("c-1", "hello there")
        ack = await tab.recv()
        assert ack == {"type": "ack", "id": "c-1"}
        reply, before = await tab.recv_until(is_bot_message)
        assert reply["from"] == "bot" and reply["text"] == "echo: hello there" and reply["buttons"] == []
        kinds = [f["type"] for f in before]
        assert kinds.index("typing") < len(kinds)
        assert {"type": "typing", "on": True} in before
    conversation = conversation_for(db, token)
    # Only the token's hash is stored; the conversation id is Rasa's sender id.
    assert conversation.address == hash_session_token(token) != token
    assert fake_rasa.calls[0].sender == conversation.id
    assert fake_rasa.calls[0].metadata == {
        "channel": "web", "customer_id": None, "locale": "en", "client": client_fingerprint("ip:127.0.0.1")
    }


async def test_typing_goes_on_before_the_reply_and_off_by_the_end(gateway: Gateway) -> None:
    async with gateway.connect() as tab:
        await open_session(tab)
        await tab.say("c-1", "hi")
        _, before = await tab.recv_until(is_bot_message)
        after = await tab.quiet(0.3)
    typing = [f["on"] for f in before + after if f["type"] == "typing"]
    assert typing == [True, False]


async def test_buttons_arrive_as_quick_replies_and_a_press_sends_the_payload(
    gateway: Gateway, fake_rasa: FakeRasa
) -> None:
    def reply(call: RasaCall) -> list[dict[str, Any]]:
        if call.message == "/affirm":
            return [{"text": "Great!"}]
        return [
            {
                "text": "Shall I check?",
                "buttons": [{"title": "Yes", "payload": "/affirm"}, {"title": "No", "payload": "/deny"}],
            }
        ]

    fake_rasa.reply = reply
    async with gateway.connect() as tab:
        await open_session(tab)
        await tab.say("c-1", "status of my order")
        offer, _ = await tab.recv_until(is_bot_message)
        assert offer["buttons"] == [
            {"title": "Yes", "payload": "/affirm"},
            {"title": "No", "payload": "/deny"},
        ]
        await tab.send({"type": "message", "id": "c-2", "payload": "/affirm", "title": "Yes"})
        answer, _ = await tab.recv_until(is_bot_message)
        assert answer["text"] == "Great!"
    assert fake_rasa.calls[-1].message == "/affirm"


async def test_a_forged_button_payload_is_refused_with_a_clear_message(
    gateway: Gateway, fake_rasa: FakeRasa, db: Any
) -> None:
    async with gateway.connect() as tab:
        token, _ = await open_session(tab)
        await tab.send({"type": "message", "id": "c-1", "payload": "/request_refund", "title": "Refund"})
        error, before = await tab.recv_until(lambda f: f["type"] == "error")
        assert error["code"] == "bad_payload" and error["id"] == "c-1"
        assert "no longer available" in error["text"]
        assert {"type": "ack", "id": "c-1"} in before  # kept in the transcript all the same
        # The connection goes on.
        await tab.say("c-2", "ok then")
        reply, _ = await tab.recv_until(is_bot_message)
        assert reply["text"] == "echo: ok then"
    assert [c.message for c in fake_rasa.calls] == ["ok then"]
    pressed = messages_of(db, conversation_for(db, token).id)[0]
    assert pressed.text == "Refund" and pressed.data["rejected"] == "bad_payload"


async def test_a_typed_intent_is_not_executed(gateway: Gateway, fake_rasa: FakeRasa) -> None:
    async with gateway.connect() as tab:
        await open_session(tab)
        await tab.say("c-1", '/request_human{"priority": 9}')
        await tab.recv_until(is_bot_message)
    assert fake_rasa.calls[0].message == 'request_human{"priority": 9}'


# -- sessions, reconnects, tabs ----------------------------------------------------------


async def test_a_reconnect_resumes_the_conversation_with_its_history(gateway: Gateway) -> None:
    async with gateway.connect() as tab:
        token, _ = await open_session(tab)
        await tab.say("c-1", "first")
        await tab.recv_until(is_bot_message)
    async with gateway.connect(session=token) as tab:
        history = await tab.recv()
        assert history["type"] == "history"  # no new session frame: same conversation
        messages = history["messages"]
        assert [(m["from"], m["text"]) for m in messages] == [("customer", "first"), ("bot", "echo: first")]
        assert messages[0]["client_id"] == "c-1"
        assert "client_id" not in messages[1]
        assert all(m["id"] and m["ts"] for m in messages)


async def test_a_resend_after_reconnect_is_acknowledged_but_not_answered_twice(
    gateway: Gateway, fake_rasa: FakeRasa, db: Any
) -> None:
    async with gateway.connect() as tab:
        token, _ = await open_session(tab)
        await tab.say("c-1", "are you there?")
        await tab.recv_until(is_bot_message)
    async with gateway.connect(session=token) as tab:
        await tab.recv()  # history
        await tab.say("c-1", "are you there?")
        assert await tab.recv() == {"type": "ack", "id": "c-1"}
        assert await tab.quiet(0.4) == []
    conversation = conversation_for(db, token)
    assert [m.text for m in messages_of(db, conversation.id)] == ["are you there?", "echo: are you there?"]
    assert len(fake_rasa.calls) == 1
    assert await gateway.metric("gateway_duplicates_dropped_total", {"channel": "web"}) == 1


async def test_a_reply_that_lands_while_the_tab_is_closed_is_in_the_history(
    gateway: Gateway, fake_rasa: FakeRasa
) -> None:
    fake_rasa.delay = 0.5
    async with gateway.connect() as tab:
        token, _ = await open_session(tab)
        await tab.say("c-1", "slow question")
        assert (await tab.recv())["type"] == "ack"
    await asyncio.sleep(0.8)
    async with gateway.connect(session=token) as tab:
        history = (await tab.recv())["messages"]
    assert [m["text"] for m in history] == ["slow question", "echo: slow question"]


async def test_every_tab_of_a_session_sees_the_conversation(gateway: Gateway) -> None:
    async with gateway.connect() as first:
        token, _ = await open_session(first)
        async with gateway.connect(session=token) as second:
            await second.recv()  # history
            await first.say("c-1", "hello from tab one")
            echoed, _ = await second.recv_until(lambda f: f["type"] == "message" and f["from"] == "customer")
            assert echoed["text"] == "hello from tab one" and echoed["client_id"] == "c-1"
            reply_in_second, _ = await second.recv_until(is_bot_message)
            reply_in_first, _ = await first.recv_until(is_bot_message)
            assert reply_in_first["id"] == reply_in_second["id"]
            assert reply_in_first["text"] == "echo: hello from tab one"


async def test_an_unknown_or_malformed_session_token_starts_afresh(gateway: Gateway) -> None:
    for bogus in ("x" * 43, "not-a-token", "a" * 500):
        async with gateway.connect(session=bogus) as tab:
            token, history = await open_session(tab)
            assert token != bogus and history == []


async def test_twenty_messages_in_flight_reach_rasa_in_order(
    start_gateway: Callable[..., Any], fake_rasa: FakeRasa
) -> None:
    gateway = await start_gateway(rate_limit_session_burst=25, rate_limit_ip_burst=25)
    fake_rasa.delay = 0.01
    async with gateway.connect() as tab:
        await open_session(tab)
        for i in range(20):
            await tab.say(f"c-{i}", f"message {i}")
        replies = []
        while len(replies) < 20:
            frame, _ = await tab.recv_until(is_bot_message)
            replies.append(frame["text"])
    assert [c.message for c in fake_rasa.calls] == [f"message {i}" for i in range(20)]
    assert replies == [f"echo: message {i}" for i in range(20)]
    assert fake_rasa.max_active_per_sender == 1


# -- identity ----------------------------------------------------------------------------


async def test_a_signed_customer_is_verified(
    gateway: Gateway, fake_rasa: FakeRasa, customer: Customer, db: Any
) -> None:
    async with gateway.connect(customer_id="C001", sign=True) as tab:
        token, _ = await open_session(tab)
        await tab.say("c-1", "hi")
        await tab.recv_until(is_bot_message)
    assert fake_rasa.calls[0].metadata["customer_id"] == "C001"
    assert conversation_for(db, token).customer_id == customer.id


async def test_a_forged_signature_is_anonymous_and_logged_without_the_id(
    gateway: Gateway, fake_rasa: FakeRasa, customer: Customer, db: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with gateway.connect(customer_id="C001", signature="00" * 32) as tab:
        token, _ = await open_session(tab)
        await tab.say("c-1", "show me my orders")
        await tab.recv_until(is_bot_message)
    assert fake_rasa.calls[0].metadata["customer_id"] is None
    assert conversation_for(db, token).customer_id is None
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and r.name.startswith("bot.")]
    assert any("signature invalid" in r.getMessage() for r in warnings)
    assert all(
        "C001" not in r.getMessage() and "C001" not in json.dumps(vars(r), default=str) for r in warnings
    )
    assert (
        await gateway.metric("gateway_rejected_messages_total", {"channel": "web", "reason": "bad_signature"})
        == 1
    )


async def test_a_signature_with_no_secret_configured_verifies_nobody(
    start_gateway: Callable[..., Any], fake_rasa: FakeRasa, customer: Customer
) -> None:
    from bot.identity import sign_customer_id

    gateway = await start_gateway(widget_identity_secret="")
    forged = sign_customer_id("C001", "")
    async with gateway.connect(customer_id="C001", signature=forged) as tab:
        await open_session(tab)
        await tab.say("c-1", "hi")
        await tab.recv_until(is_bot_message)
    assert fake_rasa.calls[0].metadata["customer_id"] is None


async def test_a_signed_id_that_is_not_a_customer_is_anonymous(gateway: Gateway, fake_rasa: FakeRasa) -> None:
    async with gateway.connect(customer_id="C999", sign=True) as tab:
        await open_session(tab)
        await tab.say("c-1", "hi")
        await tab.recv_until(is_bot_message)
    assert fake_rasa.calls[0].metadata["customer_id"] is None


async def test_a_verified_session_is_never_resumed_anonymously_or_as_someone_else(
    gateway: Gateway, customer: Customer, db: Any
) -> None:
    with db() as session:
        session.add(Customer(external_id="C002", first_name="Bob", email="bob@example.com"))
        session.commit()
    async with gateway.connect(customer_id="C001", sign=True) as tab:
        ada_token, _ = await open_session(tab)
        await tab.say("c-1", "my address is 1 Private Lane")
        await tab.recv_until(is_bot_message)
    # Signed out on a shared computer: the old token comes back without an identity.
    async with gateway.connect(session=ada_token) as tab:
        anon_token, history = await open_session(tab)
    assert anon_token != ada_token and history == []
    # Someone else signs in with the same browser storage.
    async with gateway.connect(session=ada_token, customer_id="C002", sign=True) as tab:
        bob_token, history = await open_session(tab)
    assert bob_token not in (ada_token, anon_token) and history == []
    # Ada herself still gets her conversation back.
    async with gateway.connect(session=ada_token, customer_id="C001", sign=True) as tab:
        history = (await tab.recv())["messages"]
    assert history[0]["text"] == "my address is 1 Private Lane"


async def test_an_anonymous_session_is_not_taken_over_by_a_sign_in(
    gateway: Gateway, customer: Customer
) -> None:
    async with gateway.connect() as tab:
        token, _ = await open_session(tab)
        await tab.say("c-1", "anonymous question")
        await tab.recv_until(is_bot_message)
    async with gateway.connect(session=token, customer_id="C001", sign=True) as tab:
        new_token, history = await open_session(tab)
    assert new_token != token and history == []


# -- limits ------------------------------------------------------------------------------


async def test_a_message_over_the_limit_is_refused_and_the_conversation_goes_on(
    gateway: Gateway, fake_rasa: FakeRasa, db: Any
) -> None:
    async with gateway.connect() as tab:
        token, _ = await open_session(tab)
        await tab.say("c-1", "x" * 2001)
        error = await tab.recv()
        assert error["type"] == "error" and error["code"] == "too_long" and error["id"] == "c-1"
        assert "2001 characters" in error["text"] and "2000" in error["text"]
        await tab.say("c-2", "y" * 2000)  # exactly the limit is fine
        reply, _ = await tab.recv_until(is_bot_message)
        assert reply["text"] == "echo: " + "y" * 2000
    conversation = conversation_for(db, token)
    assert [m.sender for m in messages_of(db, conversation.id)] == [Sender.customer, Sender.bot]
    assert (
        await gateway.metric("gateway_rejected_messages_total", {"channel": "web", "reason": "too_long"}) == 1
    )


@pytest.mark.parametrize(
    "raw",
    [
        "not json",
        "[1, 2]",
        json.dumps({"type": "message", "text": "no id"}),
        json.dumps({"type": "message", "id": "has spaces in it", "text": "x"}),
        json.dumps({"type": "message", "id": "c-1"}),
        json.dumps({"type": "message", "id": "c-1", "text": "both", "payload": "/greet"}),
        json.dumps({"type": "message", "id": "c-1", "text": 42}),
        json.dumps({"type": "message", "id": "c-1", "text": "   "}),
        json.dumps({"type": "subscribe", "id": "c-1"}),
    ],
)
async def test_a_bad_frame_gets_a_clear_error_and_the_connection_stays(
    gateway: Gateway, fake_rasa: FakeRasa, raw: str
) -> None:
    async with gateway.connect() as tab:
        await open_session(tab)
        await tab.ws.send(raw)
        error = await tab.recv()
        assert error["type"] == "error" and error["code"] == "bad_frame" and error["text"]
        await tab.say("c-ok", "still here")
        reply, _ = await tab.recv_until(is_bot_message)
        assert reply["text"] == "echo: still here"
    assert [c.message for c in fake_rasa.calls] == ["still here"]


async def test_a_binary_frame_is_a_bad_frame(gateway: Gateway) -> None:
    async with gateway.connect() as tab:
        await open_session(tab)
        await tab.ws.send(b"\x00\x01")
        error = await tab.recv()
        assert error["code"] == "bad_frame"


async def test_the_session_rate_limit_refuses_with_a_clear_error(
    start_gateway: Callable[..., Any], fake_rasa: FakeRasa
) -> None:
    gateway = await start_gateway(rate_limit_session_burst=3, rate_limit_session_per_minute=1)
    async with gateway.connect() as tab:
        await open_session(tab)
        for i in range(4):
            await tab.say(f"c-{i}", f"message {i}")
        error, _ = await tab.recv_until(lambda f: f["type"] == "error")
        assert error["code"] == "rate_limited" and error["id"] == "c-3"
        assert "wait a few seconds" in error["text"]
        await tab.quiet(0.3)
    assert [c.message for c in fake_rasa.calls] == ["message 0", "message 1", "message 2"]
    assert await gateway.metric("gateway_rate_limited_total", {"scope": "session"}) == 1


async def test_the_ip_rate_limit_spans_sessions(
    start_gateway: Callable[..., Any], fake_rasa: FakeRasa
) -> None:
    gateway = await start_gateway(rate_limit_ip_burst=2, rate_limit_ip_per_minute=1)
    async with gateway.connect() as one, gateway.connect() as two:
        await open_session(one)
        await open_session(two)
        await one.say("c-1", "one")
        await one.recv_until(lambda f: f["type"] == "ack")
        await two.say("c-1", "two")
        await two.recv_until(lambda f: f["type"] == "ack")
        await one.say("c-2", "three")
        error, _ = await one.recv_until(lambda f: f["type"] == "error")
        assert error["code"] == "rate_limited" and error["id"] == "c-2"
    assert await gateway.metric("gateway_rate_limited_total", {"scope": "ip"}) == 1


async def test_too_many_connections_from_one_address_are_turned_away(
    start_gateway: Callable[..., Any],
) -> None:
    gateway = await start_gateway(rate_limit_connect_burst=2, rate_limit_connect_per_minute=1)
    for _ in range(2):
        async with gateway.connect() as tab:
            await open_session(tab)
    async with gateway.connect() as tab:
        error = await tab.recv()
        assert error["type"] == "error" and error["code"] == "rate_limited"
        with pytest.raises(ConnectionClosed) as closed:
            await tab.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1013


async def test_an_oversized_frame_closes_with_1009(gateway: Gateway) -> None:
    # The server in front allows 64 KiB (as `make run` does); the gateway's own cap is 16 KiB.
    async with gateway.connect() as tab:
        await open_session(tab)
        await tab.say("c-1", "z" * 20_000)
        with pytest.raises(ConnectionClosed) as closed:
            await tab.quiet(2)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


async def test_uvicorn_refuses_frames_over_its_cap_before_reading_them(
    start_gateway: Callable[..., Any],
) -> None:
    gateway = await start_gateway(ws_max_size=16 * 1024)
    async with gateway.connect() as tab:
        await open_session(tab)
        await tab.say("c-1", "z" * 40_000)
        with pytest.raises(ConnectionClosed) as closed:
            await tab.quiet(2)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


# -- failures and handoff through the widget ------------------------------------------------


async def test_rasa_down_gives_the_apology_over_the_socket(
    gateway: Gateway, fake_rasa: FakeRasa, db: Any
) -> None:
    fake_rasa.mode = "down"
    async with gateway.connect() as tab:
        token, _ = await open_session(tab)
        await tab.say("c-1", "where is my parcel?")
        reply, _ = await tab.recv_until(is_bot_message, timeout=4)
    assert reply["from"] == "system"
    assert reply["text"].startswith("Sorry — I'm having trouble answering right now. Your message is saved.")
    assert "help@juniperandoak.example" in reply["text"]  # from shop.yml
    conversation = conversation_for(db, token)
    assert messages_of(db, conversation.id)[0].text == "where is my parcel?"
    assert await gateway.metric("gateway_failures_total", {"kind": "down"}) == 1


async def test_a_slow_rasa_is_answered_within_the_deadline(
    start_gateway: Callable[..., Any], fake_rasa: FakeRasa
) -> None:
    gateway = await start_gateway(rasa_timeout_seconds=0.5)
    fake_rasa.delay = 10
    async with gateway.connect() as tab:
        await open_session(tab)
        loop = asyncio.get_running_loop()
        started = loop.time()
        await tab.say("c-1", "hello")
        reply, _ = await tab.recv_until(is_bot_message, timeout=3)
        assert loop.time() - started < 1.5
    assert "having trouble answering" in reply["text"]
    assert await gateway.metric("gateway_failures_total", {"kind": "timeout"}) == 1


async def test_after_a_handoff_the_widget_is_told_a_person_will_reply(
    gateway: Gateway, fake_rasa: FakeRasa, db: Any
) -> None:
    fake_rasa.reply = lambda call: [
        {"text": "I'll get a colleague for you."},
        {"custom": {"handoff": {"reason": "request_human", "priority": 1, "handoff_id": 3}}},
    ]
    async with gateway.connect() as tab:
        token, _ = await open_session(tab)
        await tab.say("c-1", "human please")
        first, _ = await tab.recv_until(is_bot_message)
        assert first["text"] == "I'll get a colleague for you."
        # Then the gateway's queue notice: place and wait, or when the team is back (the real clock here).
        queue, _ = await tab.recv_until(is_bot_message)
        assert queue["from"] == "system"
        assert "in the queue" in queue["text"] or "Our team is away right now" in queue["text"]
        await tab.say("c-2", "thanks")
        notice, _ = await tab.recv_until(is_bot_message)
        assert notice["from"] == "system" and "will reply here" in notice["text"]
        extra = await tab.quiet(0.3)
        assert not [f for f in extra if f["type"] == "message" and f["from"] != "customer"]
    assert len(fake_rasa.calls) == 1
    with db() as session:
        state = session.scalar(
            select(Conversation.state).where(Conversation.address == hash_session_token(token))
        )
    assert state.value == "queued"
    assert await gateway.metric("gateway_handoffs_total", {"channel": "web"}) == 1


async def test_active_websockets_are_counted(gateway: Gateway) -> None:
    async with gateway.connect() as tab:
        await open_session(tab)
        assert await gateway.metric("gateway_active_websockets") == 1
    for _ in range(50):
        if await gateway.metric("gateway_active_websockets") == 0:
            break
        await asyncio.sleep(0.02)
    assert await gateway.metric("gateway_active_websockets") == 0


async def test_nothing_is_stored_for_refused_frames(gateway: Gateway, db: Any) -> None:
    async with gateway.connect() as tab:
        await open_session(tab)
        await tab.say("c-1", "x" * 5000)
        await tab.recv()
    with db() as session:
        assert session.scalars(select(Message)).all() == []


async def test_when_the_database_cannot_store_a_message_the_widget_is_told_to_resend(
    gateway: Gateway, fake_rasa: FakeRasa, db_engine: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with gateway.connect() as tab:
        await open_session(tab)
        # The messages table goes away (renamed: on PostgreSQL other tables' keys point at it).
        with db_engine.begin() as connection:
            connection.exec_driver_sql("ALTER TABLE messages RENAME TO messages_gone")
        await tab.say("c-1", "my secret words")
        error = await tab.recv()
        assert error["type"] == "error" and error["code"] == "unavailable" and error["id"] == "c-1"
        assert "try sending it again" in error["text"]
    assert fake_rasa.calls == []
    errors = [r for r in caplog.records if r.name == "bot.core.inbound" and r.levelno == logging.ERROR]
    assert errors, "the failure is logged"
    # The database error quotes its SQL; the gateway's engine hides the parameters.
    assert not [r for r in caplog.records if "my secret words" in r.getMessage()]


async def test_a_tab_that_reads_nothing_is_let_go_instead_of_piling_up_frames() -> None:
    from starlette.websockets import WebSocketState

    from bot.channels.widget import Connection

    class StuckSocket:
        application_state = WebSocketState.CONNECTED

        def __init__(self) -> None:
            self.sent: list[str] = []
            self.closed_with: int | None = None

        async def send_text(self, text: str) -> None:
            self.sent.append(text)

        async def close(self, code: int) -> None:
            self.closed_with = code

    socket = StuckSocket()
    connection = Connection(socket)  # type: ignore[arg-type]
    for i in range(300):  # the writer is not running: nothing drains the queue
        connection.push({"type": "typing", "on": bool(i % 2)})
    await asyncio.wait_for(connection.write(), 1)
    assert len(socket.sent) == 256
    assert socket.closed_with == 1013
