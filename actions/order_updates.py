"""Order notices on or off ("stop order updates", "send me order updates"), and
the one-time question after a verified order question.

This consent is about the customer's own orders (shipped, out for delivery,
late, refunded) and is separate from the newsletter: saying no to one never
changes the other.
"""

from __future__ import annotations

import logging

from rasa_sdk import Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select
from sqlalchemy.orm import Session

from actions.common import CustomerRun, VerifiedCustomerAction, channel, latest_intent
from crm.models import Consent, Customer, Order, OrderStatus
from crm.services.consents import CONSENT_KIND, set_consent

logger = logging.getLogger(__name__)

NEEDS_VERIFICATION = (
    "I can change that once I've confirmed it's you. Ask me about one of your orders and I'll "
    "check your order number and e-mail address first."
)
STARTED = (
    "Done — I'll message you here when one of your orders ships, is out for delivery, runs late "
    "or is refunded. Say \"stop order updates\" any time to turn them off."
)
STOPPED = (
    "Done — no more order updates from me. You can still ask me about your orders any time, "
    "and \"send me order updates\" turns them back on."
)
ASK = "Shall I message you here when it ships?"
ASK_BUTTONS = [
    {"title": "Yes, message me", "payload": "/order_updates_start"},
    {"title": "No, thanks", "payload": "/order_updates_stop"},
]
# Only where a notice can reach the customer later.
ASKING_CHANNELS = {"web", "telegram", "sms"}


class ActionOrderUpdates(VerifiedCustomerAction):
    needs_verification = NEEDS_VERIFICATION

    def name(self) -> str:
        return "action_order_updates"

    def act(self, run: CustomerRun) -> list[EventType]:
        granted = latest_intent(run.tracker) == "order_updates_start"
        if set_consent(run.session, customer=run.customer, granted=granted, source=channel(run.tracker)):
            logger.info("order updates consent changed by customer: granted=%s", granted)
        run.dispatcher.utter_message(text=STARTED if granted else STOPPED)
        return []


def should_ask(session: Session, *, customer: Customer, order: Order, channel_name: str) -> bool:
    """Ask once: never asked before (no choice recorded, from any source), the
    order has yet to ship, and the channel can carry a notice."""
    if customer.order_updates_opt_in is not None or channel_name not in ASKING_CHANNELS:
        return False
    if order.status not in (OrderStatus.placed, OrderStatus.paid):
        return False
    asked = session.scalar(
        select(Consent.id).where(Consent.customer_id == customer.id, Consent.kind == CONSENT_KIND).limit(1)
    )
    return asked is None


def ask_once(
    dispatcher: CollectingDispatcher, session: Session, tracker: Tracker, *, customer: Customer, order: Order
) -> None:
    if should_ask(session, customer=customer, order=order, channel_name=channel(tracker)):
        dispatcher.utter_message(text=ASK, buttons=ASK_BUTTONS)
