"""Linked channel accounts: single-use deep-link claims, and where to tell a
customer that a new account was linked to them.

A deep-link token is claimed by inserting its hash (an atomic claim, so two
taps racing each other cannot both link); a second use finds the claim and
links nothing. Claims older than any token could live are pruned on the way.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crm.models import Conversation, Customer, TelegramLinkClaim

NEW_LINK_NOTICE = (
    "A new {channel} account was just linked to your account with us. If that wasn't you, ask me "
    "\"which accounts are linked?\" to see and remove it."
)


def token_hash(token: str) -> str:
    return hashlib.sha256(b"telegram-link-claim/v1\x00" + token.encode()).hexdigest()


def claim_link(session: Session, *, token: str, now: datetime, keep: timedelta) -> bool:
    """True the first time this token is claimed, False on every later use."""
    session.execute(delete(TelegramLinkClaim).where(TelegramLinkClaim.claimed_at < now - keep))
    try:
        with session.begin_nested():
            session.add(TelegramLinkClaim(token_hash=token_hash(token), claimed_at=now))
    except IntegrityError:
        return False
    return True


def notice_conversation(
    session: Session, *, customer_external_id: str, channel: str, external_user_id: str
) -> str | None:
    """The customer's latest conversation elsewhere than the newly linked account (None if none)."""
    customer_id = session.scalar(select(Customer.id).where(Customer.external_id == customer_external_id))
    if customer_id is None:
        return None
    others = select(Conversation.id).where(Conversation.customer_id == customer_id)
    others = others.where(~((Conversation.channel == channel) & (Conversation.address == external_user_id)))
    return session.scalar(others.order_by(Conversation.updated_at.desc(), Conversation.created_at.desc()).limit(1))

