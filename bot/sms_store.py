"""What the SMS channel keeps: who a number belongs to, and whether it may be texted.

Sync functions, one step of a unit of work each (the caller owns the session
and commits), returning plain data, like `bot.persistence`.

Opt-outs are kept per number, not only per customer: carriers require that a
number which texted STOP gets nothing more until it texts START, known
customer or not. The record is the keyword message itself, stored in the
transcript like any other customer message (so staff see it too); a known
customer's choice is also written as a Consent row, where the CRM card and
the privacy tools look, and an "sms" consent set elsewhere (an import, staff)
is honoured as well. Whichever of the two is newest decides.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.core.messages import Button, InboundMessage, OutboundMessage
from bot.intake.keywords import CHANNEL, START_WORDS, STOP_WORDS, Keyword
from bot.intake.records import record_answered
from crm.clock import as_utc
from crm.models import AuditEntry, Consent, Conversation, Customer, Message, Sender
from crm.services.consents import record_consent
from crm.services.customers import find_customer_by_phone

# How far back to look for the options a numeric reply may pick.
_BUTTON_LOOKBACK = 20


@dataclass(frozen=True)
class KeywordReceipt:
    duplicate: bool
    # The answer, stored in the transcript, if the keyword gets one.
    reply: OutboundMessage | None = None


@dataclass(frozen=True)
class TextingNumber:
    """Who texted, found with one lookup of the number: the customer, and whether we may answer."""

    customer_external_id: str | None
    may_text: bool


def customer_for_number(session: Session, *, number: str) -> str | None:
    """The external id of the one customer with this E.164 number (a shared number verifies nobody)."""
    customer = find_customer_by_phone(session, phone=number)
    return None if customer is None else customer.external_id


def texting_number(session: Session, *, number: str) -> TextingNumber:
    """`customer_for_number` and `may_text` together, looking the number up once."""
    customer = find_customer_by_phone(session, phone=number)
    return TextingNumber(
        customer_external_id=None if customer is None else customer.external_id,
        may_text=_may_text(session, number=number, customer=customer),
    )


def may_text(session: Session, *, number: str) -> bool:
    """False once the number (or its customer) has opted out of SMS and not opted back in."""
    return _may_text(session, number=number, customer=find_customer_by_phone(session, phone=number))


def _may_text(session: Session, *, number: str, customer: Customer | None) -> bool:
    latest: list[tuple[datetime, bool]] = []
    keyword = session.execute(
        select(Message.text, Message.created_at)
        .join(Conversation, Message.conversation_id == Conversation.id)
        .where(
            Conversation.channel == CHANNEL,
            Conversation.address == number,
            Message.sender == Sender.customer,
            func.upper(func.trim(Message.text)).in_(STOP_WORDS | START_WORDS),
        )
        .order_by(Message.id.desc())
        .limit(1)
    ).first()
    if keyword is not None:
        latest.append((as_utc(keyword.created_at), keyword.text.strip().upper() in START_WORDS))
    if customer is not None:
        consent = session.execute(
            select(Consent.granted, Consent.created_at)
            .where(Consent.customer_id == customer.id, Consent.kind == CHANNEL)
            .order_by(Consent.created_at.desc(), Consent.id.desc())
            .limit(1)
        ).first()
        if consent is not None:
            latest.append((as_utc(consent.created_at), consent.granted))
    if not latest:
        return True
    return max(latest, key=lambda event: event[0])[1]


def verified_in_chat(session: Session, *, conversation_id: str, customer_external_id: str) -> bool:
    """Whether the person at this number proved, in this conversation, to be this customer
    (order number and e-mail, audited by the action that checked them)."""
    return (
        session.scalar(
            select(AuditEntry.id)
            .where(
                AuditEntry.action == "identity.verify",
                AuditEntry.subject == f"conversation:{conversation_id}",
                AuditEntry.actor == f"customer:{customer_external_id}",
            )
            .limit(1)
        )
        is not None
    )


def record_keyword(
    session: Session,
    *,
    inbound: InboundMessage,
    number: str,
    keyword: Keyword,
    reply: str | None,
) -> KeywordReceipt:
    """Store a STOP/START/HELP message (once per MessageSid), its consent change and its answer."""
    answered = record_answered(
        session, inbound=inbound, reply=reply, data={"kind": "sms_keyword", "keyword": keyword}
    )
    if answered.duplicate:
        return KeywordReceipt(duplicate=True)
    if keyword != "help":
        customer = find_customer_by_phone(session, phone=number)
        if customer is not None:
            record_consent(session, customer=customer, kind=CHANNEL, granted=keyword == "start", source=CHANNEL)
    return KeywordReceipt(duplicate=False, reply=answered.reply)


def latest_options(session: Session, *, conversation_id: str) -> tuple[Button, ...]:
    """The buttons a numeric reply picks from: those of the newest message with buttons
    in the bot's latest turn - the same turn `store.offered_payloads` accepts payloads
    from (bot messages, and the gateway's own when they have buttons). None once a
    person has written since: a "2" then answers them, not an old menu."""
    recent = session.scalars(
        select(Message)
        .where(Message.conversation_id == conversation_id)
        .order_by(Message.id.desc())
        .limit(_BUTTON_LOOKBACK)
    )
    in_turn = False
    for message in recent:
        if (message.data or {}).get("suppressed"):
            continue  # held back when staff took over: the customer never saw it
        buttons = _buttons(message.data)
        if message.sender == Sender.bot or (message.sender == Sender.system and buttons):
            if buttons:
                return buttons
            in_turn = True
        elif message.sender == Sender.agent or in_turn:
            return ()
    return ()


def _buttons(data: dict[str, object] | None) -> tuple[Button, ...]:
    raw = (data or {}).get("buttons")
    if not isinstance(raw, list):
        return ()
    return tuple(
        Button(title=str(b.get("title", "")), payload=str(b["payload"]))
        for b in raw
        if isinstance(b, dict) and b.get("payload")
    )
