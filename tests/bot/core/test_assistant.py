"""bot/core/assistant.py: one turn with the assistant - what Rasa is sent (never a typed intent; the
turn's metadata), and the customer always hears something true."""

from __future__ import annotations

import pytest

from bot.conversations import Outcome
from bot.core.assistant import neutralise
from crm.services.verification_limits import client_fingerprint
from tests.fakes.rigs import ServiceRig, inbound, messages_of, metric


@pytest.mark.parametrize(
    ("text", "read_as"),
    [("/greet", "greet"), (" //request_human", "request_human"), ("\n/ /x", "x"), ("a/b /c", "a/b /c"), ("", "")],
)
def test_neutralise_strips_what_rasa_would_read_as_an_intent(text: str, read_as: str) -> None:
    assert neutralise(text) == read_as


async def test_the_turn_tells_rasa_where_replies_go_and_what_order_a_notice_was_about(rig: ServiceRig) -> None:
    conversation = await rig.conversation()
    message = inbound(conversation.id, "1", "where is it now?", client_address="ip:203.0.113.9")
    assert await rig.service.assistant.take_turn(message, notice_order="1043") is Outcome.answered
    (call,) = rig.rasa.calls
    assert call.metadata == {
        "channel": "web", "customer_id": None, "locale": "en",
        "client": client_fingerprint("ip:203.0.113.9"), "order_in_context": "1043",
    }  # fmt: skip
    assert rig.channel.typing_events == [(conversation.id, True), (conversation.id, False)]


async def test_without_a_client_address_the_client_is_the_channel_address(rig: ServiceRig) -> None:
    conversation = await rig.conversation(address="chat-42")
    await rig.service.assistant.take_turn(inbound(conversation.id, "1", "hi"))
    assert rig.rasa.calls[0].metadata["client"] == client_fingerprint("web:chat-42")
    assert "order_in_context" not in rig.rasa.calls[0].metadata


async def test_an_assistant_that_answers_nothing_gets_the_customer_the_apology(rig: ServiceRig) -> None:
    rig.rasa.mode = "empty"
    conversation = await rig.conversation()
    assert await rig.service.assistant.take_turn(inbound(conversation.id, "1", "hello")) is Outcome.failed
    (apology,) = messages_of(rig.db, conversation.id)
    assert apology.data == {"kind": "apology", "failure": "empty"}
    assert metric(rig.metrics, "gateway_failures_total", {"kind": "empty"}) == 1
    assert metric(rig.metrics, "gateway_rasa_latency_seconds_count") == 1


async def test_failing_a_conversation_that_vanished_is_a_lookup_error(rig: ServiceRig) -> None:
    with pytest.raises(LookupError):
        await rig.service.assistant.fail("never-was", "timeout")
