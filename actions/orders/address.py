"""A new delivery address: the form that asks for it, and the request to the shop."""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.orders.changes import pick_open_order
from actions.orders.turn import OrderAction, Turn, asking, reset, resolved
from actions.orders.words import LOST_TRACK, PERSON_BUTTON, YES_NO, done
from actions.shop_requests import ADDRESS_REQUESTED
from crm.models import OrderStatus, ShopRequestKind
from crm.services.orders import can_change

MAX_ADDRESS_LENGTH = 300

CANNOT_CHANGE_ADDRESS_SHIPPED = (
    "Order #{number} has already left us, so I can't change its delivery address any more. A "
    "colleague may be able to ask {carrier} to redirect it — shall I pass you to a person?"
)
CANNOT_CHANGE_ADDRESS_CLOSED = (
    "Order #{number} is {status}, so its delivery address can't change any more."
)
ASK_NEW_ADDRESS = (
    "What's the new delivery address for order #{number}? Please include the house number "
    "and street, the town and the postcode."
)
INVALID_ADDRESS = (
    "That doesn't look like a full address. Please send the house number and street, the "
    'town and the postcode, e.g. "12 Mill Lane, Bristol BS1 4AB".'
)
ADDRESS_TOO_LONG = (
    "That's longer than any address I can store ({max} characters at most). Please send just "
    "the house number and street, the town and the postcode."
)


class ActionChangeAddress(OrderAction):
    """Starts the new-address form while the order can still change."""

    intent = "change_shipping_address"

    def name(self) -> str:
        return "action_change_address"

    def answer(self, turn: Turn) -> list[EventType]:
        order = pick_open_order(turn, self.intent)
        if order is None:
            return reset()
        if can_change(order):
            # The rules start address_form on this value; the form asks.
            return asking("new_address", order, new_address=None)
        if order.status == OrderStatus.shipped:
            carrier = order.carrier or "the carrier"
            turn.say(CANNOT_CHANGE_ADDRESS_SHIPPED.format(number=order.number, carrier=carrier), YES_NO)
            return asking("handoff_offer", order, handoff_reason="change_address")
        turn.say(CANNOT_CHANGE_ADDRESS_CLOSED.format(number=order.number, status=order.status.value))
        return reset(order_number=order.number)


class ActionAskAddressFormNewAddress(Action):
    def name(self) -> str:
        return "action_ask_address_form_new_address"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        number = tracker.get_slot("order_in_question") or tracker.get_slot("order_number") or ""
        dispatcher.utter_message(text=ASK_NEW_ADDRESS.format(number=number))
        return []


_SPACES = re.compile(r"[ \t]+")


def clean_address(text: str) -> str:
    lines = [_SPACES.sub(" ", line).strip(" ,") for line in text.strip().splitlines()]
    return ", ".join(line for line in lines if line)


def looks_like_address(address: str) -> bool:
    # A house number or a postcode has a digit; a street and a town have letters.
    return (
        len(address) >= 10
        and any(c.isdigit() for c in address)
        and sum(c.isalpha() for c in address) >= 4
        and len(address.split()) >= 3
    )


class ValidateAddressForm(FormValidationAction):
    def name(self) -> str:
        return "validate_address_form"

    async def validate_new_address(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = value if isinstance(value, str) else ""
        if len(text) > MAX_ADDRESS_LENGTH:
            dispatcher.utter_message(text=ADDRESS_TOO_LONG.format(max=MAX_ADDRESS_LENGTH))
            return {"new_address": None}
        address = clean_address(text)
        if not looks_like_address(address):
            dispatcher.utter_message(text=INVALID_ADDRESS)
            return {"new_address": None}
        return {"new_address": address}


class ActionSaveAddress(OrderAction):
    """The customer confirmed the new address shown to them."""

    intent = "change_shipping_address"

    def name(self) -> str:
        return "action_save_address"

    def answer(self, turn: Turn) -> list[EventType]:
        order = turn.order_in_question("new_address")
        address = turn.tracker.get_slot("new_address")
        if order is None:
            return reset(new_address=None)
        if not isinstance(address, str) or not looks_like_address(address):
            turn.say(LOST_TRACK)
            return reset(new_address=None)
        if not can_change(order):
            status = order.status.value
            turn.say(
                CANNOT_CHANGE_ADDRESS_CLOSED.format(number=order.number, status=status), [PERSON_BUTTON]
            )
            return reset(new_address=None)
        turn.ask_shop(order, ShopRequestKind.change_address, {"address": address})
        turn.say(done(ADDRESS_REQUESTED.format(number=order.number)))
        return resolved(self.intent, order) + [SlotSet("new_address", None)]
