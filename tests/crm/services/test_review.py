"""The review queue: what goes in, masked, and what staff make of it."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.models import ReviewItem, Sender
from crm.services import review
from crm.services.conversations import record_feedback, record_handoff
from tests.factories import make_conversation, make_message, make_staff_user


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("my email is Ada.L+shop@example.co.uk ok", "my email is [email] ok"),
        ("call me on +44 7700 900123 please", "call me on [phone] please"),
        ("ring 07700900123", "ring [phone]"),
        ("where is order #1043?", "where is order [order]?"),
        ("order 10004 hasn't come", "order [order] hasn't come"),
        ("return R-7K3QX2 status", "return [reference] status"),
        ("2 pairs in size 10", "2 pairs in size 10"),
        ("", ""),
    ],
)
def test_mask(text: str, masked: str) -> None:
    assert review.mask(text) == masked


def _items(session: Session) -> list[tuple[str, str]]:
    return [(i.reason, i.masked_text) for i in session.scalars(select(ReviewItem).order_by(ReviewItem.id))]


def test_fallbacks_and_unsure_readings_are_queued_with_the_guesses(session: Session) -> None:
    c = make_conversation(session)
    sure = make_message(session, conversation=c, text="where is my order")
    lost = make_message(session, conversation=c, text="my parcel 1043 is a cat")
    unsure = make_message(session, conversation=c, text="can u mail me at a@b.io")
    ranking = [["track_order", 0.4], ["delivery_info", 0.3]]
    review.record_reading(session, message_id=sure.id, intent="track_order", confidence=0.97, ranking=ranking, threshold=0.5)
    review.record_reading(session, message_id=lost.id, intent="nlu_fallback", confidence=0.2, ranking=ranking, threshold=0.5)
    review.record_reading(session, message_id=unsure.id, intent="track_order", confidence=0.4, ranking=ranking, threshold=0.5)
    assert (sure.intent, sure.intent_confidence) == ("track_order", 0.97)
    assert _items(session) == [("fallback", "my parcel [order] is a cat"), ("low_confidence", "can u mail me at [email]")]
    item = session.scalars(select(ReviewItem)).first()
    assert item is not None and item.guesses[0] == {"intent": "track_order", "confidence": 0.4}


def test_the_last_words_before_a_handoff_or_a_low_rating(session: Session) -> None:
    c = make_conversation(session)
    make_message(session, conversation=c, text="my order 1043 came broken").intent = "complain_damaged"
    make_message(session, conversation=c, text="a person please").intent = "request_human"
    make_message(session, conversation=c, sender=Sender.bot, text="passing you on")
    record_handoff(session, conversation_id=c.id, customer=None, reason="request_human",
                   intent="request_human", slots={}, order_numbers=[], verified=False)  # fmt: skip
    assert _items(session) == [("before_handoff", "my order [order] came broken")]

    other = make_conversation(session)
    make_message(session, conversation=other, text="do you sell gift cards")
    make_message(session, conversation=other, text="1", data={"payload": '/inform{"rating":"1"}'})
    record_feedback(session, conversation_id=other.id, customer=None, score=1)
    record_feedback(session, conversation_id=other.id, customer=None, score=5)  # no second entry
    assert _items(session)[-1] == ("low_rating", "do you sell gift cards")
    assert len(_items(session)) == 2


def test_review_new_requests_and_training_examples(session: Session) -> None:
    staff = make_staff_user(session)
    c = make_conversation(session)
    texts = ["do you sell gift cards", "Gift cards?", "wheres my stuff", "wheres my stuff"]
    ids = []
    for n, text in enumerate(texts):
        m = make_message(session, conversation=c, text=text, channel_message_id=f"m{n}")
        review.record_reading(session, message_id=m.id, intent="nlu_fallback", confidence=0.1, ranking=[], threshold=0.5)
        ids.append(session.scalar(select(ReviewItem.id).where(ReviewItem.message_id == m.id)))
    assert review.open_count(session) == 4
    review.review(session, item_id=ids[0], intent=review.NEW_REQUEST, staff_id=staff.id, note="Gift cards")
    review.review(session, item_id=ids[1], intent=review.NEW_REQUEST, staff_id=staff.id, note=" gift cards ")
    review.review(session, item_id=ids[2], intent="track_order", staff_id=staff.id)
    review.review(session, item_id=ids[3], intent="track_order", staff_id=staff.id)
    assert review.review(session, item_id=999_999, intent="x", staff_id=staff.id) is None
    assert review.open_count(session) == 0
    assert review.unmet_requests(session) == [("gift cards", 2)]
    assert review.reviewed_examples(session) == {"track_order": ["wheres my stuff"]}


def test_fallback_rate_before_and_after_the_last_export(session: Session) -> None:
    from datetime import UTC, datetime, timedelta

    from crm.services.audit import audit

    export_at = datetime(2026, 11, 20, 12, tzinfo=UTC)
    assert review.fallback_before_after(session, now=export_at) is None
    c = make_conversation(session)
    for n, (days, intent) in enumerate([(-3, "nlu_fallback"), (-2, "track_order"), (-1, "nlu_fallback"), (-40, "nlu_fallback"),
                                        (1, "track_order"), (2, "nlu_fallback"), (3, "greet"), (4, "track_order")]):  # fmt: skip
        m = make_message(session, conversation=c, text="x", channel_message_id=f"f{n}")
        m.intent, m.created_at = intent, export_at + timedelta(days=days)
    audit(session, actor="cli", action="training.export", subject="reviewed.yml").at = export_at
    session.flush()
    got = review.fallback_before_after(session, now=export_at + timedelta(days=10))
    assert got == {"at": export_at, "before": pytest.approx(2 / 3), "after": pytest.approx(1 / 4)}
