"""One run of an order action: the verified customer, the CRM session, the order meant.

`OrderAction` acts only for the verified customer (`VerifiedCustomerAction`) and reads
orders only through `get_order_for_customer`, so an order number that is
someone else's gets the same answer as one that does not exist.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from actions.common import CustomerRun, VerifiedCustomerAction, message_metadata
from actions.identity.complete import start_verification
from actions.orders.words import (
    HISTORY_BUTTON,
    HISTORY_LENGTH,
    LOST_TRACK,
    ORDER_NOT_FOUND,
    UNREADABLE_ORDER_NUMBER,
    WHICH_ORDER,
    Buttons,
    order_button,
)
from actions.shop_requests import ask_shop
from crm.models import Customer, Order, ShopRequest, ShopRequestKind
from crm.services.orders import get_order_for_customer, normalize_order_number, recent_orders

# How far back "your orders" reaches when the customer names none.
_LOOKBACK = 20


@dataclass
class Turn:
    """What an order action works with: the conversation, the CRM, the customer."""

    dispatcher: CollectingDispatcher
    tracker: Tracker
    session: Session
    customer: Customer

    @property
    def actor(self) -> str:
        return f"customer:{self.customer.external_id}"

    def say(self, text: str, buttons: Buttons | None = None) -> None:
        self.dispatcher.utter_message(text=text, buttons=buttons or [])

    def ask_shop(
        self, order: Order, kind: ShopRequestKind, detail: dict[str, Any] | None = None
    ) -> ShopRequest:
        """Send the shop a request about the order, from this customer and conversation."""
        return ask_shop(self.session, self.tracker, order=order, kind=kind, actor=self.actor, detail=detail)

    def orders(self, keep: Callable[[Order], bool] = lambda o: True) -> list[Order]:
        """The customer's recent orders, newest first, that `keep` accepts."""
        recent = recent_orders(self.session, customer=self.customer, limit=_LOOKBACK)
        return [o for o in recent if keep(o)]

    def mentioned_order_number(self) -> str | None:
        """The order number in this message, else the order notice it answers
        (the gateway says which), else the one the conversation is about."""
        value: Any = next(self.tracker.get_latest_entity_values("order_number"), None)
        if value is None:
            value = message_metadata(self.tracker).get("order_in_context")
        if value is None:
            value = self.tracker.get_slot("order_number")
        if isinstance(value, list):
            value = value[0] if value else None
        return str(value)[:64] if value else None

    def own_order(self, number: str) -> Order | None:
        """The customer's order with this number; unknown and someone else's
        get the same answer."""
        order = get_order_for_customer(self.session, customer=self.customer, order_number=number)
        if order is None:
            self.say(ORDER_NOT_FOUND.format(number=number), [HISTORY_BUTTON])
        return order

    def pick_order(
        self,
        intent: str,
        candidates: Callable[[], list[Order]],
        none_text: str,
        none_buttons: Buttons | None = None,
    ) -> Order | None:
        """The order the customer means: the one they named, else the only
        candidate. None when the bot answered instead (unknown number, no
        candidate, or a question which one, as buttons that repeat the intent)."""
        raw = self.mentioned_order_number()
        if raw is not None:
            number = normalize_order_number(raw)
            if number is None:
                self.say(UNREADABLE_ORDER_NUMBER, [HISTORY_BUTTON])
                return None
            return self.own_order(number)
        options = candidates()
        if len(options) == 1:
            return options[0]
        if not options:
            self.say(none_text, none_buttons)
        else:
            self.say(WHICH_ORDER, [order_button(o, intent) for o in options[:HISTORY_LENGTH]])
        return None

    def order_in_question(self, awaiting: str) -> Order | None:
        """The order a yes/no question was about, if that question is the one open."""
        number = self.tracker.get_slot("order_in_question")
        if self.tracker.get_slot("awaiting") != awaiting or not number:
            self.say(LOST_TRACK)
            return None
        return self.own_order(number)


def reset(**extra: Any) -> list[EventType]:
    return [SlotSet("awaiting", None), SlotSet("order_in_question", None)] + [
        SlotSet(name, value) for name, value in extra.items()
    ]


def resolved(intent: str, order: Order | None = None) -> list[EventType]:
    events = reset(resolved_request=intent)
    if order is not None:
        events.append(SlotSet("order_number", order.number))
    return events


def asking(awaiting: str, order: Order, **extra: Any) -> list[EventType]:
    return [
        SlotSet("awaiting", awaiting),
        SlotSet("order_in_question", order.number),
        SlotSet("order_number", order.number),
    ] + [SlotSet(name, value) for name, value in extra.items()]


class OrderAction(VerifiedCustomerAction):
    """One verified customer, one CRM session, one `Turn` per run; anyone else
    is sent through verification for `intent`. Abstract, like its base."""

    intent: str = ""

    def unverified(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
        return start_verification(self.intent)

    def act(self, run: CustomerRun) -> list[EventType]:
        return self.answer(Turn(run.dispatcher, run.tracker, run.session, run.customer))

    @abstractmethod
    def answer(self, turn: Turn) -> list[EventType]: ...
