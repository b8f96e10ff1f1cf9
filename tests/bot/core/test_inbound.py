"""bot/core/inbound.py: each message is claimed and stored once, the channel learns so before the
turn, staff consoles see it at once, and a resent message whose turn failed is taken up again."""

from __future__ import annotations

from datetime import datetime, timezone

from bot.conversations import Outcome, Receipt, staff_conversation_key
from bot.core.inbound import receipt
from bot.persistence.claims import Claim
from tests.bot.staff_support import HandoffRig
from tests.fakes.rigs import ServiceRig, inbound, metric


def test_a_receipt_is_a_duplicate_without_a_claim_and_carries_the_claim_otherwise() -> None:
    message = inbound("c1", "m1", "hello")
    assert receipt(message, None) == Receipt("c1", "c1:m1", duplicate=True)
    at = datetime(2026, 1, 2, tzinfo=timezone.utc)
    claim = Claim(message_id=7, text="Yes", created_at=at, rejection="bad_payload")
    assert receipt(message, claim) == Receipt(
        conversation_id="c1", channel_message_id="c1:m1", duplicate=False, message_id=7, text="Yes",
        created_at=at, rejection="bad_payload",
    )  # fmt: skip


async def test_the_channel_hears_the_message_is_stored_before_the_turn_and_staff_see_it(
    handoff_rig: HandoffRig,
) -> None:
    rig = handoff_rig
    rig.rasa.fake.delay = 0.3
    conversation = await rig.conversation()
    stored: list[tuple[Receipt, int]] = []

    async def on_stored(receipt: Receipt) -> None:
        stored.append((receipt, len(rig.rasa.fake.calls)))

    outcome = await rig.service.inbound.submit(inbound(conversation.id, "1", "hello"), on_stored=on_stored)
    assert outcome is Outcome.answered
    ((first, calls_then),) = stored
    assert (first.duplicate, first.text, calls_then) == (False, "hello", 0)
    (frame,) = [f for f in rig.fanout.of(staff_conversation_key(conversation.id)) if f.get("from") == "customer"]
    assert (frame["id"], frame["text"]) == (str(first.message_id), "hello")
    assert metric(rig.metrics, "gateway_messages_total", {"channel": "web", "direction": "in"}) == 1


async def test_a_button_never_offered_is_stored_rejected_and_never_reaches_the_assistant(rig: ServiceRig) -> None:
    conversation = await rig.conversation()
    receipts: list[Receipt] = []

    async def on_stored(receipt: Receipt) -> None:
        receipts.append(receipt)

    forged = inbound(conversation.id, "1", payload="/affirm", payload_title="Yes")
    assert await rig.service.inbound.submit(forged, on_stored=on_stored) is Outcome.rejected
    assert [r.rejection for r in receipts] == ["bad_payload"] and rig.rasa.calls == []
    assert metric(rig.metrics, "gateway_rejected_messages_total", {"channel": "web", "reason": "bad_payload"}) == 1


async def test_a_resent_message_whose_turn_failed_is_answered_this_time(rig: ServiceRig) -> None:
    conversation = await rig.conversation()
    message = inbound(conversation.id, "1", "hello")
    rig.rasa.mode = "down"
    assert await rig.service.inbound.submit(message) is Outcome.failed
    rig.rasa.mode = "ok"
    receipts: list[Receipt] = []

    async def on_stored(receipt: Receipt) -> None:
        receipts.append(receipt)

    assert await rig.service.inbound.submit(message, on_stored=on_stored) is Outcome.answered
    assert [r.duplicate for r in receipts] == [True]  # acknowledged as what it is, then answered
    assert rig.channel.texts(conversation.id)[-1] == "echo: hello"
    assert await rig.service.inbound.submit(message) is Outcome.duplicate  # answered now: a duplicate
    assert [c.message for c in rig.rasa.calls] == ["hello", "hello"]
