"""Words the order actions share: buttons, refusals, dates, items and states."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from actions.shop_info import join_words, money
from crm.clock import as_utc, utcnow
from crm.models import Order, OrderStatus
from crm.shop import load_shop_profile

HISTORY_LENGTH = 5

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


def short_date(moment: datetime) -> str:
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
    title = f"#{order.number} · {short_date(order.placed_at)} · {money(order.total, order.currency)}"
    return {"title": title, "payload": intent_payload(intent, order.number)}
