"""Orders: status, history, invoice, cancel, change, new address, returns, refunds.

Every action looks the customer up itself (`verified_customer`) and reads
orders only through `get_order_for_customer`, so an order number that is
someone else's gets the same answer as one that does not exist. Anything that
changes an order waits for an explicit yes: the question sets `awaiting` (a
featurized slot the rules read) and `order_in_question`; the confirming
action checks both again before it touches the CRM.
"""

from __future__ import annotations

import json
import logging
import re
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.orm import Session

from actions.common import crm_session, message_metadata, verified_customer
from actions.identity import start_verification
from actions.order_updates import ask_once
from actions.shop_info import join_words, money
from actions.shop_requests import (
    ADDRESS_REQUESTED,
    CANCEL_REFUND,
    CANCEL_REQUESTED,
    CANCEL_UNPAID,
    already_asked,
    ask_shop,
    waiting_for_shop,
)
from crm.clock import as_utc, utcnow
from crm.models import Customer, Order, OrderStatus, ReturnRequest, ReturnStatus, ShopRequestKind
from crm.services.orders import (
    OPEN_STATUSES,
    can_change,
    can_return,
    get_order_for_customer,
    invoice_summary,
    normalize_order_number,
    recent_orders,
    request_return,
    returns_for_customer,
)
from crm.shop import load_shop_profile

logger = logging.getLogger(__name__)

# How far back "your orders" reaches when the customer names none.
_LOOKBACK = 20
HISTORY_LENGTH = 5
MAX_ADDRESS_LENGTH = 300
# Handoff reasons set here when a person is offered; a "no" clears them.
OWN_HANDOFF_REASONS = ("change_order", "change_address", "refund_outside_window")

Buttons = list[dict[str, str]]
ANYTHING_ELSE = "Is there anything else I can help with?"
YES_NO: Buttons = [{"title": "Yes", "payload": "/affirm"}, {"title": "No", "payload": "/deny"}]
PERSON_BUTTON = {"title": "Talk to a person", "payload": "/request_human"}
HISTORY_BUTTON = {"title": "Show my recent orders", "payload": "/order_history"}

ORDER_NOT_FOUND = (
    "I couldn't find an order #{number} on your account. Please check the number in your "
    "order confirmation e-mail."
)
UNREADABLE_ORDER_NUMBER = "That doesn't look like one of our order numbers — they're digits, like #1043."
WHICH_ORDER = "Which order do you mean?"
NO_ORDERS = "I can't see any orders on your account yet."
LOST_TRACK = "Sorry, I've lost track of which order you meant. Could you tell me the order number?"


def intent_payload(intent: str, order_number: str) -> str:
    return f"/{intent}{json.dumps({'order_number': order_number})}"


def done(text: str) -> str:
    return f"{text}\n{ANYTHING_ELSE}"


# --- words for dates, items and states ----------------------------------------


def on_day(moment: datetime, *, now: datetime | None = None) -> str:
    """ "today", "yesterday", "on Tuesday 17 November" (with the year if not this
    one), in the shop's time zone."""
    tz = load_shop_profile().opening_hours.tz
    local = as_utc(moment).astimezone(tz)
    today = as_utc(now or utcnow()).astimezone(tz).date()
    day = local.date()
    if day == today:
        return "today"
    if day == today - timedelta(days=1):
        return "yesterday"
    text = f"on {local:%A} {day.day} {local:%B}"
    return text if day.year == today.year else f"{text} {day.year}"


def _short_date(moment: datetime) -> str:
    local = as_utc(moment).astimezone(load_shop_profile().opening_hours.tz)
    return f"{local.day} {local:%b}" + ("" if local.year == utcnow().year else f" {local.year}")


def items_text(order: Order) -> str:
    return join_words([f"{line.quantity} × {line.product.name}" for line in order.lines])


def order_progress(order: Order, *, now: datetime | None = None) -> str:
    """How far an open order has got, as the end of "Your order #1043 ..."."""
    if order.status == OrderStatus.shipped:
        return f"shipped {on_day(order.shipped_at, now=now)}" if order.shipped_at else "is on its way"
    placed = on_day(order.placed_at, now=now)
    if order.status == OrderStatus.paid:
        return f"was placed {placed} and is being packed"
    if order.status == OrderStatus.placed:
        return f"was placed {placed} and is waiting for the payment to go through"
    return f"is {order.status.value}"


def status_text(order: Order, *, now: datetime | None = None) -> str:
    number, contents = order.number, f" It has {items_text(order)}." if order.lines else ""
    if order.status == OrderStatus.shipped:
        when = on_day(order.shipped_at, now=now) if order.shipped_at else "recently"
        text = f"Order #{number} shipped {when}"
        text += f" with {order.carrier}." if order.carrier else "."
        if order.tracking_number:
            text += f" Your tracking number is {order.tracking_number}."
        return text + contents
    if order.status == OrderStatus.delivered:
        when = on_day(order.delivered_at, now=now) if order.delivered_at else "already"
        return f"Order #{number} was delivered {when}." + contents
    placed = on_day(order.placed_at, now=now)
    if order.status == OrderStatus.paid:
        dispatch = load_shop_profile().delivery.dispatch
        text = f"Order #{number} was placed {placed} and we're getting it ready to ship."
        return text + contents + (f" {dispatch}" if dispatch else "")
    if order.status == OrderStatus.placed:
        return (
            f"Order #{number} was placed {placed} and is waiting for the payment to go through. "
            "We'll start packing it as soon as it does." + contents
        )
    if order.status == OrderStatus.cancelled:
        when = f" {on_day(order.cancelled_at, now=now)}" if order.cancelled_at else ""
        return f"Order #{number} was cancelled{when}." + contents
    return f"Order #{number} was returned to us." + contents


def order_button(order: Order, intent: str) -> dict[str, str]:
    title = f"#{order.number} · {_short_date(order.placed_at)} · {money(order.total, order.currency)}"
    return {"title": title, "payload": intent_payload(intent, order.number)}


# --- one run of an order action ---------------------------------------------------


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


def _reset(**extra: Any) -> list[EventType]:
    return [SlotSet("awaiting", None), SlotSet("order_in_question", None)] + [
        SlotSet(name, value) for name, value in extra.items()
    ]


def _resolved(intent: str, order: Order | None = None) -> list[EventType]:
    events = _reset(resolved_request=intent)
    if order is not None:
        events.append(SlotSet("order_number", order.number))
    return events


def _asking(awaiting: str, order: Order, **extra: Any) -> list[EventType]:
    return [
        SlotSet("awaiting", awaiting),
        SlotSet("order_in_question", order.number),
        SlotSet("order_number", order.number),
    ] + [SlotSet(name, value) for name, value in extra.items()]


class OrderAction(Action, ABC):
    """One verified customer, one CRM session, per run. Abstract, so the action
    server does not register it as an action of its own."""

    intent: str = ""

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        with crm_session() as session:
            customer = verified_customer(session, tracker)
            if customer is None:
                return start_verification(self.intent)
            return self.answer(Turn(dispatcher, tracker, session, customer))

    @abstractmethod
    def answer(self, turn: Turn) -> list[EventType]: ...


# --- looking ---------------------------------------------------------------------------


class ActionOrderStatus(OrderAction):
    intent = "track_order"

    def name(self) -> str:
        return "action_order_status"

    def answer(self, turn: Turn) -> list[EventType]:
        def candidates() -> list[Order]:
            # The open orders; with none open, the latest order of all.
            return turn.orders(lambda o: o.status in OPEN_STATUSES) or turn.orders()[:1]

        order = turn.pick_order(self.intent, candidates, NO_ORDERS)
        if order is None:
            return _reset()
        turn.say(done(status_text(order) + waiting_for_shop(turn.session, order)))
        ask_once(turn.dispatcher, turn.session, turn.tracker, customer=turn.customer, order=order)
        return _resolved(self.intent, order)


class ActionOrderHistory(OrderAction):
    intent = "order_history"

    def name(self) -> str:
        return "action_order_history"

    def answer(self, turn: Turn) -> list[EventType]:
        orders = turn.orders()[:HISTORY_LENGTH]
        if not orders:
            turn.say(NO_ORDERS)
            return _reset()
        lines = [
            f"• #{o.number} · {_short_date(o.placed_at)} · {items_text(o)} · "
            f"{money(o.total, o.currency)} · {o.status.value}"
            for o in orders
        ]
        heading = (
            "Here's your order:" if len(orders) == 1 else f"Here are your last {len(orders)} orders:"
        )
        open_orders = [order_button(o, "track_order") for o in orders if o.status in OPEN_STATUSES]
        turn.say(done("\n".join([heading, *lines])), open_orders)
        return _resolved(self.intent)


class ActionInvoice(OrderAction):
    intent = "get_invoice"

    def name(self) -> str:
        return "action_invoice"

    def answer(self, turn: Turn) -> list[EventType]:
        # Without a number: the latest order that was actually bought.
        order = turn.pick_order(
            self.intent, lambda: turn.orders(lambda o: o.status != OrderStatus.cancelled)[:1], NO_ORDERS
        )
        if order is None:
            return _reset()
        summary = invoice_summary(order)
        currency = summary["currency"]
        lines = [f"Invoice for order #{summary['number']}, placed {on_day(order.placed_at)}:"]
        for line in summary["lines"]:
            price = f" — {money(line['line_total'], currency)}" if line["line_total"] is not None else ""
            lines.append(f"• {line['quantity']} × {line['name']}{price}")
        lines.append(f"Total: {money(summary['total'], currency)}")
        if order.status == OrderStatus.cancelled:
            lines.append("This order was cancelled, so you weren't charged for it.")
        turn.say(done("\n".join(lines)))
        return _resolved(self.intent, order)


# --- cancelling --------------------------------------------------------------------------

NO_CANCELLABLE = (
    "None of your orders can still be cancelled — once an order has shipped, you can return it instead."
)
CONFIRM_CANCEL = (
    "Shall I cancel order #{number} ({items}, {total})? You'll get a full refund to the way you paid."
)
CANNOT_CANCEL_SHIPPED = (
    "Order #{number} has already shipped, so it can't be cancelled any more. Once it arrives "
    "you can send it back within {days} days for a refund."
)
CANNOT_CANCEL_DELIVERED = "Order #{number} was delivered {when}, so it can't be cancelled."
RETURN_INSTEAD = " You can return it instead."
ALREADY_CANCELLED = "Order #{number} is already cancelled — there's nothing more to do."
ALREADY_RETURNED = "Order #{number} has already been returned to us."


def _return_or_person(order: Order) -> Buttons:
    return [
        {"title": "Start a return", "payload": intent_payload("request_refund", order.number)},
        PERSON_BUTTON,
    ]


def explain_not_cancellable(turn: Turn, order: Order) -> None:
    if order.status == OrderStatus.shipped:
        days = load_shop_profile().returns.window_days
        turn.say(CANNOT_CANCEL_SHIPPED.format(number=order.number, days=days), _return_or_person(order))
    elif order.status == OrderStatus.delivered:
        when = on_day(order.delivered_at) if order.delivered_at else "already"
        text = CANNOT_CANCEL_DELIVERED.format(number=order.number, when=when)
        if can_return(order):
            turn.say(text + RETURN_INSTEAD, _return_or_person(order))
        else:
            turn.say(text, [PERSON_BUTTON])
    elif order.status == OrderStatus.cancelled:
        turn.say(ALREADY_CANCELLED.format(number=order.number))
    else:
        turn.say(ALREADY_RETURNED.format(number=order.number))


def _previous_bot_action(tracker: Tracker) -> str | None:
    """The action that ran just before the customer's latest message."""
    seen_user = False
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            seen_user = True
        elif seen_user and event.get("event") == "action" and event.get("name") != "action_listen":
            return event.get("name")
    return None


def _cancel(turn: Turn, order: Order) -> list[EventType]:
    # The shop cancels it (the parcel may be on the packing table): ask, don't pretend.
    waiting = already_asked(turn.session, order, ShopRequestKind.cancel)
    if waiting is not None:
        turn.say(done(waiting))
        return _resolved("cancel_order", order)
    ask_shop(turn.session, turn.tracker, order=order, kind=ShopRequestKind.cancel, actor=turn.actor)
    text = CANCEL_REQUESTED.format(number=order.number)
    if order.status == OrderStatus.paid:
        days = load_shop_profile().returns.refund_business_days
        text += CANCEL_REFUND.format(total=money(order.total, order.currency), days=days)
    else:
        text += CANCEL_UNPAID
    turn.say(done(text))
    return _resolved("cancel_order", order)


class ActionCancelOrder(OrderAction):
    """Asks for an explicit yes; cancels nothing itself, except when the
    customer answers that very question with "cancel it"."""

    intent = "cancel_order"

    def name(self) -> str:
        return "action_cancel_order"

    def answer(self, turn: Turn) -> list[EventType]:
        order = turn.pick_order(
            self.intent, lambda: turn.orders(can_change), NO_CANCELLABLE, [HISTORY_BUTTON]
        )
        if order is None:
            return _reset()
        if not can_change(order):
            explain_not_cancellable(turn, order)
            return _reset(order_number=order.number)
        if self._answers_the_question(turn.tracker, order):
            return _cancel(turn, order)
        total = money(order.total, order.currency)
        turn.say(
            CONFIRM_CANCEL.format(number=order.number, items=items_text(order), total=total), YES_NO
        )
        return _asking("cancel_confirmation", order)

    @staticmethod
    def _answers_the_question(tracker: Tracker, order: Order) -> bool:
        # "Shall I cancel order #1044?" - "yes cancel it" reads as cancel_order.
        return (
            tracker.get_slot("awaiting") == "cancel_confirmation"
            and tracker.get_slot("order_in_question") == order.number
            and _previous_bot_action(tracker) in ("action_cancel_order", "action_request_refund")
        )


class ActionConfirmCancel(OrderAction):
    """The customer said yes to cancelling `order_in_question`."""

    intent = "cancel_order"

    def name(self) -> str:
        return "action_confirm_cancel"

    def answer(self, turn: Turn) -> list[EventType]:
        order = turn.order_in_question("cancel_confirmation")
        if order is None:
            return _reset()
        if not can_change(order):
            # It shipped between the question and the answer.
            explain_not_cancellable(turn, order)
            return _reset()
        return _cancel(turn, order)


# --- changing items ---------------------------------------------------------------------

NO_OPEN_ORDER = (
    "I can't see an order of yours that's still on its way. If it has already arrived, you "
    "can return anything you don't want."
)
OFFER_ITEM_CHANGE = (
    "I can't change the items on an order myself, but order #{number} hasn't shipped yet, so "
    "a colleague can still do it for you. Shall I pass you to a person?"
)
CANNOT_CHANGE_SHIPPED = (
    "Order #{number} has already shipped, so its items can't be changed any more. Once it "
    "arrives you can return anything you don't want — or talk to a person."
)
CANNOT_CHANGE_CLOSED = "Order #{number} is {status}, so there's nothing left to change on it."


def _open_orders(turn: Turn) -> Callable[[], list[Order]]:
    return lambda: turn.orders(lambda o: o.status in OPEN_STATUSES)


class ActionChangeOrder(OrderAction):
    """The bot can't edit items: it offers a person while that is still possible."""

    intent = "change_order"

    def name(self) -> str:
        return "action_change_order"

    def answer(self, turn: Turn) -> list[EventType]:
        order = turn.pick_order(
            self.intent, _open_orders(turn), NO_OPEN_ORDER, [HISTORY_BUTTON, PERSON_BUTTON]
        )
        if order is None:
            return _reset()
        if can_change(order):
            turn.say(OFFER_ITEM_CHANGE.format(number=order.number), YES_NO)
            return _asking("handoff_offer", order, handoff_reason="change_order")
        if order.status in (OrderStatus.shipped, OrderStatus.delivered):
            turn.say(CANNOT_CHANGE_SHIPPED.format(number=order.number), _return_or_person(order))
        else:
            turn.say(CANNOT_CHANGE_CLOSED.format(number=order.number, status=order.status.value))
        return _reset(order_number=order.number)


# --- new delivery address ---------------------------------------------------------------

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
        order = turn.pick_order(
            self.intent, _open_orders(turn), NO_OPEN_ORDER, [HISTORY_BUTTON, PERSON_BUTTON]
        )
        if order is None:
            return _reset()
        if can_change(order):
            # The rules start address_form on this value; the form asks.
            return _asking("new_address", order, new_address=None)
        if order.status == OrderStatus.shipped:
            carrier = order.carrier or "the carrier"
            turn.say(CANNOT_CHANGE_ADDRESS_SHIPPED.format(number=order.number, carrier=carrier), YES_NO)
            return _asking("handoff_offer", order, handoff_reason="change_address")
        turn.say(CANNOT_CHANGE_ADDRESS_CLOSED.format(number=order.number, status=order.status.value))
        return _reset(order_number=order.number)


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
            return _reset(new_address=None)
        if not isinstance(address, str) or not looks_like_address(address):
            turn.say(LOST_TRACK)
            return _reset(new_address=None)
        if not can_change(order):
            status = order.status.value
            turn.say(
                CANNOT_CHANGE_ADDRESS_CLOSED.format(number=order.number, status=status), [PERSON_BUTTON]
            )
            return _reset(new_address=None)
        ask_shop(
            turn.session,
            turn.tracker,
            order=order,
            kind=ShopRequestKind.change_address,
            actor=turn.actor,
            detail={"address": address},
        )
        turn.say(done(ADDRESS_REQUESTED.format(number=order.number)))
        return _resolved(self.intent, order) + [SlotSet("new_address", None)]


# --- returns and refunds -----------------------------------------------------------------

CONFIRM_RETURN = "Shall I open a return for order #{number} ({items}, {total})? {condition}"
RETURN_CREATED = (
    "Your return for order #{number} is open and I've passed it to the team. Your reference is "
    "{reference}. I'll tell you here as soon as they confirm it.\n"
    "{return_shipping}\nOnce the items reach us, we'll refund {total} within {days} working days."
)
NOT_SHIPPED_OFFER_CANCEL = (
    "Order #{number} hasn't shipped yet, so the quickest way to get your money back is to "
    "cancel it, free of charge. Shall I cancel it?"
)
OUTSIDE_WINDOW = (
    "Order #{number} arrived {when}, which is outside our {days}-day return window, so I can't "
    "open a return for it myself. A person from our team can look at it with you — shall I "
    "pass you over?"
)
RETURN_EXISTS = "There's already a return for order #{number}: reference {reference}, {state}."
NOTHING_TO_RETURN = "Order #{number} was cancelled, so there's nothing to send back."
NO_LONGER_RETURNABLE = "Sorry, order #{number} can't be returned any more."
NO_RETURNS = (
    "I can't see any returns or refunds on your account. If you've just sent something back, "
    "it may not have reached us yet."
)
NO_RETURN_FOR_ORDER = "I can't see a return for order #{number}."


def return_state(request: ReturnRequest, *, now: datetime | None = None) -> str:
    amount = money(request.amount, request.order.currency)
    if request.status == ReturnStatus.refunded:
        when = f" {on_day(request.refunded_at, now=now)}" if request.refunded_at else ""
        return f"refunded {amount}{when} — it can take a few days to show on your statement"
    if request.status == ReturnStatus.received:
        days = load_shop_profile().returns.refund_business_days
        return (
            f"we've received the items and your refund of {amount} is on its way within "
            f"{days} working days"
        )
    if request.status == ReturnStatus.approved:
        return f"approved — we'll refund {amount} once the items reach us"
    if request.status == ReturnStatus.rejected:
        return "not accepted — a person from our team can tell you why"
    return (
        f"opened {on_day(request.created_at, now=now)} — we'll refund {amount} once the items reach us"
    )


def _open_return(order: Order) -> ReturnRequest | None:
    return next((r for r in order.returns if r.status != ReturnStatus.rejected), None)


def _say_existing_return(turn: Turn, order: Order, request: ReturnRequest) -> None:
    turn.say(
        RETURN_EXISTS.format(
            number=order.number, reference=request.reference, state=return_state(request)
        )
    )


class ActionRequestRefund(OrderAction):
    """Offers the right way back to the money: a return, a cancellation, or a person."""

    intent = "request_refund"

    def name(self) -> str:
        return "action_request_refund"

    def answer(self, turn: Turn) -> list[EventType]:
        # With nothing returnable, the latest order explains why not.
        order = turn.pick_order(
            self.intent, lambda: turn.orders(can_return) or turn.orders()[:1], NO_ORDERS
        )
        if order is None:
            return _reset()
        returns = load_shop_profile().returns
        if can_return(order):
            total = money(order.total, order.currency)
            text = CONFIRM_RETURN.format(
                number=order.number, items=items_text(order), total=total, condition=returns.condition
            )
            turn.say(text, YES_NO)
            return _asking("refund_confirmation", order)
        if can_change(order):
            turn.say(NOT_SHIPPED_OFFER_CANCEL.format(number=order.number), YES_NO)
            return _asking("cancel_confirmation", order)
        existing = _open_return(order)
        if existing is not None:
            _say_existing_return(turn, order, existing)
        elif order.status in (OrderStatus.shipped, OrderStatus.delivered):
            arrived = order.delivered_at or order.shipped_at
            when = on_day(arrived) if arrived else "a while ago"
            turn.say(
                OUTSIDE_WINDOW.format(number=order.number, when=when, days=returns.window_days), YES_NO
            )
            return _asking("handoff_offer", order, handoff_reason="refund_outside_window")
        elif order.status == OrderStatus.cancelled:
            turn.say(NOTHING_TO_RETURN.format(number=order.number))
        else:
            turn.say(ALREADY_RETURNED.format(number=order.number))
        return _reset(order_number=order.number)


class ActionConfirmRefund(OrderAction):
    """The customer said yes to opening a return for `order_in_question`."""

    intent = "request_refund"

    def name(self) -> str:
        return "action_confirm_refund"

    def answer(self, turn: Turn) -> list[EventType]:
        order = turn.order_in_question("refund_confirmation")
        if order is None:
            return _reset()
        if not can_return(order):
            existing = _open_return(order)
            if existing is not None:
                _say_existing_return(turn, order, existing)
            else:
                turn.say(NO_LONGER_RETURNABLE.format(number=order.number), [PERSON_BUTTON])
            return _reset()
        request = request_return(turn.session, order=order, reason="Requested in chat", actor=turn.actor)
        ask_shop(
            turn.session,
            turn.tracker,
            order=order,
            kind=ShopRequestKind.return_,
            actor=turn.actor,
            detail={"return_reference": request.reference},
        )
        logger.info("return opened by the customer in chat")
        returns = load_shop_profile().returns
        text = RETURN_CREATED.format(
            number=order.number,
            reference=request.reference,
            return_shipping=returns.return_shipping,
            total=money(request.amount, order.currency),
            days=returns.refund_business_days,
        )
        turn.say(done(text))
        return _resolved(self.intent, order)


class ActionRefundStatus(OrderAction):
    intent = "refund_status"

    def name(self) -> str:
        return "action_refund_status"

    def answer(self, turn: Turn) -> list[EventType]:
        requests = returns_for_customer(turn.session, customer=turn.customer)
        # Only a number in this very message narrows it down: the order the
        # conversation was about before is not necessarily the one refunded.
        raw = next(turn.tracker.get_latest_entity_values("order_number"), None)
        if raw:
            number = normalize_order_number(str(raw)[:64])
            if number is None:
                turn.say(UNREADABLE_ORDER_NUMBER)
                return _reset()
            requests = [r for r in requests if r.order.number == number]
            if not requests:
                # The same words for unknown, someone else's, and no return.
                turn.say(NO_RETURN_FOR_ORDER.format(number=number))
                return _reset()
        if not requests:
            turn.say(NO_RETURNS, [HISTORY_BUTTON])
            return _reset()
        lines = [
            f"• {r.reference} for order #{r.order.number}: {return_state(r)}."
            for r in requests[:HISTORY_LENGTH]
        ]
        heading = (
            "Here's where your return stands:" if len(lines) == 1 else "Here's where your returns stand:"
        )
        turn.say(done("\n".join([heading, *lines])))
        return _resolved(self.intent)


# --- "no" to any of the questions above ---------------------------------------------------

KEPT = {
    "cancel_confirmation": "Okay — I haven't cancelled anything; order #{number} stays as it is.",
    "refund_confirmation": "Okay — I haven't opened a return for order #{number}.",
    "new_address": "Okay — I've left the delivery address of order #{number} as it was.",
    "handoff_offer": "No problem.",
}


class ActionKeepOrder(Action):
    """The customer said no: nothing changes, and the question is closed."""

    def name(self) -> str:
        return "action_keep_order"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        number = tracker.get_slot("order_in_question") or ""
        text = KEPT.get(tracker.get_slot("awaiting") or "", "No problem.").format(number=number)
        dispatcher.utter_message(text=done(text))
        events = _reset(new_address=None)
        if tracker.get_slot("handoff_reason") in OWN_HANDOFF_REASONS:
            events.append(SlotSet("handoff_reason", None))
        return events
