"""Hello: by name and latest open order for a verified customer, a menu for everyone else."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from actions.greeting import ANONYMOUS_BUTTONS, GREET_ANONYMOUS, GREET_NEW, GREET_RETURNING, ActionGreet
from actions.orders import on_day
from crm.clock import utcnow
from crm.models import OrderStatus
from crm.shop import load_shop_profile
from tests.actions.orders.support import order_for
from tests.actions.tracker_support import make_tracker, run_action, slot_events, texts
from tests.factories import make_customer, make_order

pytestmark = pytest.mark.usefixtures("crm")


@pytest.fixture
def amelia(session: Session) -> Any:
    customer = make_customer(session, external_id="CG1", first_name="Amelia")
    for days in (200, 120, 60):
        make_order(
            session,
            customer=customer,
            status=OrderStatus.delivered,
            placed_at=utcnow() - timedelta(days=days),
        )
    return customer


def _greet(**kwargs: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    return run_action(ActionGreet(), make_tracker(text="hi", intent="greet", **kwargs))


def test_an_anonymous_customer_gets_a_warm_menu() -> None:
    events, messages = _greet()
    assert texts(messages) == GREET_ANONYMOUS.format(shop=load_shop_profile().name)
    assert messages[0]["buttons"] == ANONYMOUS_BUTTONS
    assert slot_events(events) == {"awaiting": None}


def test_a_verified_customer_hears_about_their_shipped_order(amelia: Any, session: Session) -> None:
    order = order_for(session, amelia, "91043", OrderStatus.shipped, placed=6, shipped=4)
    events, messages = _greet(slots={"customer_id": "CG1", "verified": True})
    assert texts(messages) == (
        f"Hi Amelia! Your order #91043 shipped {on_day(order.shipped_at)} — is that what you're asking about?"
    )
    assert [b["payload"] for b in messages[0]["buttons"]] == ["/affirm", "/deny"]
    assert slot_events(events) == {
        "awaiting": "order_offer",
        "order_in_question": "91043",
        "order_number": "91043",
    }


def test_the_latest_open_order_is_the_one_mentioned(amelia: Any, session: Session) -> None:
    order_for(session, amelia, "91050", OrderStatus.shipped, placed=9)
    order_for(session, amelia, "91051", OrderStatus.paid, placed=1)
    _, messages = _greet(slots={"customer_id": "CG1", "verified": True})
    assert "Your order #91051 was placed yesterday and is being packed" in texts(messages)


def test_the_gateways_identity_is_enough_to_greet_by_name(amelia: Any) -> None:
    events, messages = _greet(metadata={"customer_id": "CG1", "channel": "sms"})
    assert texts(messages) == GREET_RETURNING.format(first_name="Amelia")
    assert slot_events(events) == {"awaiting": None}


def test_a_first_time_customer_is_welcomed(session: Session) -> None:
    make_customer(session, external_id="CG2", first_name="Callum")
    _, messages = _greet(slots={"customer_id": "CG2", "verified": True})
    assert texts(messages) == GREET_NEW.format(first_name="Callum", shop=load_shop_profile().name)


def test_a_claimed_but_unverified_customer_id_gets_the_anonymous_greeting(amelia: Any) -> None:
    _, messages = _greet(slots={"customer_id": "CG1", "verified": False})
    assert "Amelia" not in texts(messages)
    assert texts(messages) == GREET_ANONYMOUS.format(shop=load_shop_profile().name)


def test_a_verified_customer_who_was_erased_is_greeted_anonymously() -> None:
    _, messages = _greet(slots={"customer_id": "GONE", "verified": True, "customer_first_name": "Gone"})
    assert "Gone" not in texts(messages)
