"""Returns and refunds: opening a return, and where a refund stands."""

from __future__ import annotations

import logging
from datetime import datetime

from rasa_sdk.events import EventType

from actions.orders.changes import ALREADY_RETURNED
from actions.orders.turn import OrderAction, Turn, asking, reset, resolved
from actions.orders.words import (
    HISTORY_BUTTON,
    HISTORY_LENGTH,
    NO_ORDERS,
    PERSON_BUTTON,
    UNREADABLE_ORDER_NUMBER,
    YES_NO,
    done,
    items_text,
    on_day,
)
from actions.shop_info import money
from crm.models import Order, OrderStatus, ReturnRequest, ReturnStatus, ShopRequestKind
from crm.services.orders import can_change, can_return, normalize_order_number, request_return, returns_for_customer
from crm.shop import load_shop_profile

logger = logging.getLogger(__name__)


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
            return reset()
        returns = load_shop_profile().returns
        if can_return(order):
            total = money(order.total, order.currency)
            text = CONFIRM_RETURN.format(
                number=order.number, items=items_text(order), total=total, condition=returns.condition
            )
            turn.say(text, YES_NO)
            return asking("refund_confirmation", order)
        if can_change(order):
            turn.say(NOT_SHIPPED_OFFER_CANCEL.format(number=order.number), YES_NO)
            return asking("cancel_confirmation", order)
        existing = _open_return(order)
        if existing is not None:
            _say_existing_return(turn, order, existing)
        elif order.status in (OrderStatus.shipped, OrderStatus.delivered):
            arrived = order.delivered_at or order.shipped_at
            when = on_day(arrived) if arrived else "a while ago"
            turn.say(
                OUTSIDE_WINDOW.format(number=order.number, when=when, days=returns.window_days), YES_NO
            )
            return asking("handoff_offer", order, handoff_reason="refund_outside_window")
        elif order.status == OrderStatus.cancelled:
            turn.say(NOTHING_TO_RETURN.format(number=order.number))
        else:
            turn.say(ALREADY_RETURNED.format(number=order.number))
        return reset(order_number=order.number)


class ActionConfirmRefund(OrderAction):
    """The customer said yes to opening a return for `order_in_question`."""

    intent = "request_refund"

    def name(self) -> str:
        return "action_confirm_refund"

    def answer(self, turn: Turn) -> list[EventType]:
        order = turn.order_in_question("refund_confirmation")
        if order is None:
            return reset()
        if not can_return(order):
            existing = _open_return(order)
            if existing is not None:
                _say_existing_return(turn, order, existing)
            else:
                turn.say(NO_LONGER_RETURNABLE.format(number=order.number), [PERSON_BUTTON])
            return reset()
        request = request_return(turn.session, order=order, reason="Requested in chat", actor=turn.actor)
        turn.ask_shop(order, ShopRequestKind.return_, {"return_reference": request.reference})
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
        return resolved(self.intent, order)


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
                return reset()
            requests = [r for r in requests if r.order.number == number]
            if not requests:
                # The same words for unknown, someone else's, and no return.
                turn.say(NO_RETURN_FOR_ORDER.format(number=number))
                return reset()
        if not requests:
            turn.say(NO_RETURNS, [HISTORY_BUTTON])
            return reset()
        lines = [
            f"• {r.reference} for order #{r.order.number}: {return_state(r)}."
            for r in requests[:HISTORY_LENGTH]
        ]
        heading = (
            "Here's where your return stands:" if len(lines) == 1 else "Here's where your returns stand:"
        )
        turn.say(done("\n".join([heading, *lines])))
        return resolved(self.intent)
