"""bot.staff.customer_card: the customer's CRM card beside a conversation."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy.orm import Session

from bot.staff.customer_card import customer_card
from crm.models import Consent, OrderStatus
from tests.factories import make_conversation, make_customer, make_feedback, make_order

T0 = datetime(2026, 5, 1, 9, 0, tzinfo=timezone.utc)


def test_the_card_shows_the_latest_five_orders_and_ratings_and_every_conversation(session: Session) -> None:
    amelia = make_customer(session, external_id="CC1", first_name="Amelia", last_name="Hughes",
                           email="amelia@example.com", phone="+447700900123", marketing_opt_in=True)  # fmt: skip
    for day in range(7):
        make_order(
            session, customer=amelia, number=f"95{day:02d}", status=OrderStatus.shipped,
            placed_at=T0 + timedelta(days=day), total="12.50", carrier="DPD", tracking_number=f"T{day}",
        )  # fmt: skip
    for n in range(3):
        make_conversation(session, conversation_id=f"cc-{n}", customer=amelia)
    make_feedback(session, conversation_id="cc-0", customer=amelia, score=2, comment="slow")
    session.add(Consent(customer=amelia, kind="marketing", granted=True, source="import", created_at=T0))
    make_conversation(session, conversation_id="other", customer=make_customer(session))
    session.flush()

    card = customer_card(session, customer=amelia)
    assert (card.external_id, card.name, card.email, card.phone, card.marketing_opt_in, card.order_updates_opt_in) == (
        "CC1", "Amelia Hughes", "amelia@example.com", "+447700900123", True, None)
    assert [o["number"] for o in card.orders] == ["9506", "9505", "9504", "9503", "9502"]
    assert card.orders[0] == {"number": "9506", "status": "shipped", "total": "12.50 GBP",
                              "placed_at": T0 + timedelta(days=6), "carrier": "DPD", "tracking": "T6"}  # fmt: skip
    assert [(f["kind"], f["score"], f["comment"]) for f in card.feedback] == [("csat", 2, "slow")]
    assert card.consents == [("marketing", True, "import", T0)]
    assert card.conversations == 3


def test_a_customer_with_nothing_yet_has_an_empty_card(session: Session) -> None:
    card = customer_card(session, customer=make_customer(session, first_name="Zoë", last_name=""))
    assert (card.name, card.segment, card.orders, card.feedback, card.consents, card.conversations) == (
        "Zoë", "new", [], [], [], 0)
