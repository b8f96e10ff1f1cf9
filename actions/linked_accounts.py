"""Which accounts are linked to me, and removing one. Verified customers only.

One intent, `linked_accounts`: asked in words it lists the links, each with a
remove button; a remove button sends the same intent with the link's id.

A linked account (a Telegram user, today) can read the customer's orders, so
the customer sees every one of them and can remove any. The remove buttons
name a link by its row id; the action removes it only if it belongs to the
verified customer asking, whatever id a button (or a forged payload) carries.
Removing a link also retires that account's conversation, so the next message
from it starts anonymous instead of carrying on verified.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select
from sqlalchemy.orm import Session

from actions.common import CustomerRun, VerifiedCustomerAction
from actions.identity.complete import start_verification
from crm.models import ChannelIdentity, Customer
from crm.services.customers import unlink_channel_identity

logger = logging.getLogger(__name__)

ENTITY = "linked_account"
NONE_LINKED = (
    "No other accounts are linked to you. You talk to us here, and by text message from the phone "
    "number on your customer record, if there is one."
)
LISTED = "These accounts are linked to you and can see your orders:\n{lines}\nTap one to remove it."
REMOVED = "Done — I've removed that {channel} account. It can no longer see your orders."
NOT_YOURS = "I couldn't find that linked account on your record. Ask me \"which accounts are linked?\" to see them."
_NAMES = {"telegram": "Telegram", "sms": "phone", "web": "website"}


def _label(identity: ChannelIdentity) -> str:
    name = _NAMES.get(identity.channel, identity.channel)
    # Enough to recognise one's own account, not to hand out its id.
    tail = identity.external_user_id[-4:]
    return f"{name} account ending {tail}, linked {identity.created_at:%d %b %Y}"


def _identities(session: Session, customer: Customer) -> list[ChannelIdentity]:
    return list(
        session.scalars(
            select(ChannelIdentity).where(ChannelIdentity.customer_id == customer.id).order_by(ChannelIdentity.id)
        )
    )


class ActionLinkedAccounts(VerifiedCustomerAction):
    def name(self) -> str:
        return "action_linked_accounts"

    def unverified(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
        return start_verification("linked_accounts")

    def act(self, run: CustomerRun) -> list[EventType]:
        chosen = next(run.tracker.get_latest_entity_values(ENTITY), None)
        if chosen is not None:
            return _remove(run.session, run.dispatcher, run.tracker, run.customer, chosen)
        labels = [(identity.id, _label(identity)) for identity in _identities(run.session, run.customer)]
        if not labels:
            run.dispatcher.utter_message(text=NONE_LINKED)
            return []
        lines = "\n".join(f"• {label}" for _, label in labels)
        buttons = [
            {"title": f"Remove {label.split(',')[0]}", "payload": f'/linked_accounts{{"{ENTITY}":"{row_id}"}}'}
            for row_id, label in labels
        ]
        run.dispatcher.utter_message(text=LISTED.format(lines=lines), buttons=buttons)
        return []


def _remove(
    session: Session, dispatcher: CollectingDispatcher, tracker: Tracker, customer: Customer, chosen: Any
) -> list[EventType]:
    identity = None
    if isinstance(chosen, str) and chosen.isdigit() and len(chosen) <= 18:
        # Only a link of the customer asking, whatever id the payload carries.
        identity = session.scalar(
            select(ChannelIdentity).where(ChannelIdentity.id == int(chosen), ChannelIdentity.customer_id == customer.id)
        )
    if identity is None:
        dispatcher.utter_message(text=NOT_YOURS)
        return []
    channel = identity.channel
    unlink_channel_identity(session, customer=customer, identity=identity)
    logger.info("customer removed a linked account", extra={"channel": channel})
    dispatcher.utter_message(text=REMOVED.format(channel=_NAMES.get(channel, channel)))
    return []
