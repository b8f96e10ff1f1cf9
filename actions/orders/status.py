"""Looking at orders: status, history, invoice."""

from __future__ import annotations

from rasa_sdk.events import EventType

from actions.order_updates import ask_once
from actions.orders.turn import OrderAction, Turn, reset, resolved
from actions.orders.words import (
    HISTORY_LENGTH,
    NO_ORDERS,
    done,
    items_text,
    on_day,
    order_button,
    short_date,
    status_text,
)
from actions.shop_info import money
from actions.shop_requests import waiting_for_shop
from crm.models import Order, OrderStatus
from crm.services.orders import OPEN_STATUSES, invoice_summary


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
            return reset()
        turn.say(done(status_text(order) + waiting_for_shop(turn.session, order)))
        ask_once(turn.dispatcher, turn.session, turn.tracker, customer=turn.customer, order=order)
        return resolved(self.intent, order)


class ActionOrderHistory(OrderAction):
    intent = "order_history"

    def name(self) -> str:
        return "action_order_history"

    def answer(self, turn: Turn) -> list[EventType]:
        orders = turn.orders()[:HISTORY_LENGTH]
        if not orders:
            turn.say(NO_ORDERS)
            return reset()
        lines = [
            f"• #{o.number} · {short_date(o.placed_at)} · {items_text(o)} · "
            f"{money(o.total, o.currency)} · {o.status.value}"
            for o in orders
        ]
        heading = (
            "Here's your order:" if len(orders) == 1 else f"Here are your last {len(orders)} orders:"
        )
        open_orders = [order_button(o, "track_order") for o in orders if o.status in OPEN_STATUSES]
        turn.say(done("\n".join([heading, *lines])), open_orders)
        return resolved(self.intent)


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
            return reset()
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
        return resolved(self.intent, order)
