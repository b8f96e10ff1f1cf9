"""actions.orders.address: a new delivery address, before shipping only, through its form."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from actions.orders import (
    ADDRESS_TOO_LONG,
    INVALID_ADDRESS,
    MAX_ADDRESS_LENGTH,
    ActionChangeAddress,
    ActionSaveAddress,
    ValidateAddressForm,
)
from crm.models import AuditEntry, OrderStatus, ShopRequest, ShopRequestKind
from tests.actions.orders.support import VERIFIED, order_for, order_tracker, reloaded
from tests.actions.tracker_support import make_tracker, run_action, slot_events, texts

pytestmark = pytest.mark.usefixtures("crm")


def test_address_change_before_shipping_starts_the_form(customer: Any, session: Session) -> None:
    order_for(session, customer, "81500", OrderStatus.paid)
    events, messages = run_action(ActionChangeAddress(), order_tracker("change_shipping_address"))
    assert messages == []  # address_form asks
    assert slot_events(events) == {
        "awaiting": "new_address",
        "order_in_question": "81500",
        "order_number": "81500",
        "new_address": None,
    }


def test_address_change_after_shipping_offers_a_person(customer: Any, session: Session) -> None:
    order_for(session, customer, "81501", OrderStatus.shipped, carrier="DPD")
    events, messages = run_action(
        ActionChangeAddress(), order_tracker("change_shipping_address", order_number="81501")
    )
    assert "can't change its delivery address" in texts(messages)
    assert "ask DPD to redirect it" in texts(messages)
    assert slot_events(events)["awaiting"] == "handoff_offer"


def _address_tracker(text: str) -> Any:
    return make_tracker(
        text=text,
        intent="inform",
        slots={**VERIFIED, "requested_slot": "new_address", "new_address": text},
        trailing=[
            {"event": "action", "name": "address_form"},
            {"event": "slot", "name": "new_address", "value": text},
        ],
        active_loop={"name": "address_form"},
    )


def test_a_full_address_is_accepted_and_tidied() -> None:
    events, messages = run_action(
        ValidateAddressForm(), _address_tracker("12  Mill Lane\nBristol   BS1 4AB")
    )
    assert messages == []
    assert slot_events(events) == {"new_address": "12 Mill Lane, Bristol BS1 4AB"}


@pytest.mark.parametrize("text", ["never mind", "home", "the usual place please"])
def test_something_that_is_not_an_address_is_reasked(text: str) -> None:
    events, messages = run_action(ValidateAddressForm(), _address_tracker(text))
    assert texts(messages) == INVALID_ADDRESS
    assert slot_events(events) == {"new_address": None}


def test_a_five_thousand_character_address_is_refused() -> None:
    events, messages = run_action(ValidateAddressForm(), _address_tracker("12 Mill Lane " * 400))
    assert texts(messages) == ADDRESS_TOO_LONG.format(max=MAX_ADDRESS_LENGTH)
    assert slot_events(events) == {"new_address": None}


def test_yes_saves_the_confirmed_address(customer: Any, session: Session) -> None:
    order = order_for(session, customer, "81502", OrderStatus.paid)
    slots = {
        "awaiting": "new_address",
        "order_in_question": "81502",
        "new_address": "12 Mill Lane, Bristol BS1 4AB",
    }
    events, messages = run_action(ActionSaveAddress(), order_tracker("affirm", "yes", slots=slots))
    assert texts(messages).startswith(
        "I've asked the team to send order #81502 to the new address; I'll tell you here as soon as "
        "it's confirmed."
    )
    assert reloaded(session, order).shipping_address != "12 Mill Lane, Bristol BS1 4AB"
    request = session.scalars(select(ShopRequest).where(ShopRequest.order_id == order.id)).one()
    assert request.kind == ShopRequestKind.change_address
    assert request.detail == {"address": "12 Mill Lane, Bristol BS1 4AB"}
    entry = session.scalars(select(AuditEntry).where(AuditEntry.subject == "order:81502")).one()
    assert entry.action == "request.change_address" and "Mill" not in json.dumps(entry.detail)
    assert slot_events(events)["resolved_request"] == "change_shipping_address"


def test_an_address_is_not_saved_once_the_order_has_shipped(customer: Any, session: Session) -> None:
    order = order_for(session, customer, "81503", OrderStatus.shipped, shipping_address="Old 1")
    slots = {
        "awaiting": "new_address",
        "order_in_question": "81503",
        "new_address": "12 Mill Lane, Bristol BS1 4AB",
    }
    _, messages = run_action(ActionSaveAddress(), order_tracker("affirm", "yes", slots=slots))
    assert "can't change any more" in texts(messages)
    assert reloaded(session, order).shipping_address == "Old 1"
