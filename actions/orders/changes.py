"""Changing an order: cancelling it, changing its items, and "no" to any question.

Anything that changes an order waits for an explicit yes: the question sets
`awaiting` (a featurized slot the rules read) and `order_in_question`; the
confirming action checks both again before it touches the CRM.
"""

from __future__ import annotations


from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.orders.turn import OrderAction, Turn, asking, reset, resolved
from actions.orders.words import (
    HISTORY_BUTTON,
    PERSON_BUTTON,
    YES_NO,
    Buttons,
    done,
    intent_payload,
    items_text,
    on_day,
)
from actions.shop_info import money
from actions.shop_requests import CANCEL_REFUND, CANCEL_REQUESTED, CANCEL_UNPAID, already_asked
from crm.models import Order, OrderStatus, ShopRequestKind
from crm.services.orders import OPEN_STATUSES, can_change, can_return
from crm.shop import load_shop_profile

# Handoff reasons set here when a person is offered; a "no" clears them.
OWN_HANDOFF_REASONS = ("change_order", "change_address", "refund_outside_window")


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
        return resolved("cancel_order", order)
    turn.ask_shop(order, ShopRequestKind.cancel)
    text = CANCEL_REQUESTED.format(number=order.number)
    if order.status == OrderStatus.paid:
        days = load_shop_profile().returns.refund_business_days
        text += CANCEL_REFUND.format(total=money(order.total, order.currency), days=days)
    else:
        text += CANCEL_UNPAID
    turn.say(done(text))
    return resolved("cancel_order", order)


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
            return reset()
        if not can_change(order):
            explain_not_cancellable(turn, order)
            return reset(order_number=order.number)
        if self._answers_the_question(turn.tracker, order):
            return _cancel(turn, order)
        total = money(order.total, order.currency)
        turn.say(
            CONFIRM_CANCEL.format(number=order.number, items=items_text(order), total=total), YES_NO
        )
        return asking("cancel_confirmation", order)

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
            return reset()
        if not can_change(order):
            # It shipped between the question and the answer.
            explain_not_cancellable(turn, order)
            return reset()
        return _cancel(turn, order)


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


def pick_open_order(turn: Turn, intent: str) -> Order | None:
    """The order not yet delivered that the customer means (changing items or the address)."""
    return turn.pick_order(
        intent,
        lambda: turn.orders(lambda o: o.status in OPEN_STATUSES),
        NO_OPEN_ORDER,
        [HISTORY_BUTTON, PERSON_BUTTON],
    )


class ActionChangeOrder(OrderAction):
    """The bot can't edit items: it offers a person while that is still possible."""

    intent = "change_order"

    def name(self) -> str:
        return "action_change_order"

    def answer(self, turn: Turn) -> list[EventType]:
        order = pick_open_order(turn, self.intent)
        if order is None:
            return reset()
        if can_change(order):
            turn.say(OFFER_ITEM_CHANGE.format(number=order.number), YES_NO)
            return asking("handoff_offer", order, handoff_reason="change_order")
        if order.status in (OrderStatus.shipped, OrderStatus.delivered):
            turn.say(CANNOT_CHANGE_SHIPPED.format(number=order.number), _return_or_person(order))
        else:
            turn.say(CANNOT_CHANGE_CLOSED.format(number=order.number, status=order.status.value))
        return reset(order_number=order.number)


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
        events = reset(new_address=None)
        if tracker.get_slot("handoff_reason") in OWN_HANDOFF_REASONS:
            events.append(SlotSet("handoff_reason", None))
        return events
