"""bot/links.py: a deep-link token is claimed once, atomically; a new link is announced in the
customer's latest conversation elsewhere."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from bot import links
from bot.persistence import rows
from crm.clock import utcnow
from crm.models import Conversation, Customer, TelegramLinkClaim

KEEP = timedelta(days=1)


def test_a_token_is_claimed_once_and_only_its_salted_hash_is_kept(
    unit: Callable[..., Any], db: sessionmaker[Session]
) -> None:
    now = utcnow()
    assert unit(links.claim_link, token="tok-1", now=now, keep=KEEP)
    assert not unit(links.claim_link, token="tok-1", now=now, keep=KEEP)
    assert unit(links.claim_link, token="tok-2", now=now, keep=KEEP)
    with db() as session:
        kept = set(session.scalars(select(TelegramLinkClaim.token_hash)))
    assert kept == {links.token_hash("tok-1"), links.token_hash("tok-2")}
    assert links.token_hash("tok-1") == links.token_hash("tok-1") != links.token_hash("tok-2")
    assert len(links.token_hash("tok-1")) == 64 and "tok-1" not in kept


def test_claims_older_than_any_token_could_live_are_pruned(
    unit: Callable[..., Any], db: sessionmaker[Session]
) -> None:
    then = utcnow() - timedelta(days=3)
    assert unit(links.claim_link, token="old", now=then, keep=KEEP)
    assert unit(links.claim_link, token="new", now=utcnow(), keep=KEEP)
    with db() as session:
        assert list(session.scalars(select(TelegramLinkClaim.token_hash))) == [links.token_hash("new")]
    assert unit(links.claim_link, token="old", now=utcnow(), keep=KEEP)  # forgotten with its claim


def test_a_new_link_is_announced_in_the_latest_conversation_of_another_account(
    unit: Callable[..., Any], new_conversation: Callable[..., Any], db: sessionmaker[Session], customer: Customer
) -> None:
    def notice(external_id: str = "C001") -> str | None:
        return unit(links.notice_conversation, customer_external_id=external_id, channel="telegram",
                    external_user_id="555000111")  # fmt: skip

    assert notice() is None  # no conversation yet
    older = new_conversation(address="tab-1", customer="C001").id
    latest = new_conversation(address="tab-2", customer="C001").id
    new_conversation(address="someone-else")
    # The newly linked account's own chat is not "elsewhere", however recent.
    own = unit(rows.create_conversation, channel="telegram", address="555000111", customer_external_id="C001",
               locale="en").id  # fmt: skip
    with db() as session:
        session.execute(update(Conversation).where(Conversation.id == older).values(updated_at=utcnow() - KEEP))
        session.execute(update(Conversation).where(Conversation.id == own).values(updated_at=utcnow() + KEEP))
        session.commit()
    assert notice() == latest
    assert notice("C404") is None
