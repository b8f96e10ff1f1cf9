"""Who a customer is, what we hold about them, and forgetting them."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import ColumnElement, and_, delete, func, or_, select, update
from sqlalchemy.orm import Session

from crm.clock import as_utc, utcnow
from crm.models import (
    AuditEntry,
    ChannelIdentity,
    Consent,
    Conversation,
    Customer,
    Feedback,
    Handoff,
    Message,
    NpsInvitation,
    Order,
    OrderLine,
    OrderStatus,
    ReturnRequest,
    ReviewItem,
)
from crm.normalize import normalize_phone
from crm.services._sql import insert_if_absent
from crm.services import verification_limits
from crm.services.audit import audit
from crm.services.consents import record_consent
from crm.services.shop_traces import forget_shop_traces
from crm.settings import get_settings

SEGMENTS = ("vip", "returning", "new")


def get_customer(session: Session, *, customer_id: int) -> Customer | None:
    return session.get(Customer, customer_id)


def get_customer_by_external_id(session: Session, *, external_id: str) -> Customer | None:
    external_id = external_id.strip()
    if not external_id:
        return None
    return session.scalars(select(Customer).where(Customer.external_id == external_id)).first()


def find_customer_by_phone(
    session: Session, *, phone: str, default_region: str = "GB"
) -> Customer | None:
    """The one customer with this number; None if unknown, unreadable or shared.

    A number two customers share identifies neither of them.
    """
    e164 = normalize_phone(phone, default_region)
    if e164 is None:
        return None
    matches = session.scalars(select(Customer).where(Customer.phone == e164).limit(2)).all()
    return matches[0] if len(matches) == 1 else None


def find_customer_by_channel_identity(
    session: Session, *, channel: str, external_user_id: str | int
) -> Customer | None:
    return session.scalars(
        select(Customer)
        .join(ChannelIdentity)
        .where(
            ChannelIdentity.channel == channel,
            ChannelIdentity.external_user_id == str(external_user_id),
        )
    ).first()


def link_channel_identity(
    session: Session, *, customer: Customer, channel: str, external_user_id: str | int
) -> ChannelIdentity:
    """Link a channel account to the customer; linking it again is a no-op.

    Raises ValueError if the account already belongs to another customer: an
    identity never moves silently, that would hand one customer's data to another.
    """
    user_id = str(external_user_id)
    existing = _identity(session, channel, user_id)
    if existing is None:
        insert_if_absent(
            session,
            ChannelIdentity,
            {"customer_id": customer.id, "channel": channel, "external_user_id": user_id, "created_at": utcnow()},
            conflict=["channel", "external_user_id"],
        )
        existing = _identity(session, channel, user_id)
        if existing is not None and existing.customer_id == customer.id:
            _audit_identity(session, customer, "identity.link", channel)
    if existing is None or existing.customer_id != customer.id:
        raise ValueError(f"this {channel} account is already linked to another customer")
    return existing


def unlink_channel_identity(session: Session, *, customer: Customer, identity: ChannelIdentity) -> None:
    """Remove one of the customer's linked accounts, at the customer's request.

    The account's own chat stops being this customer's: its next message starts anonymous.
    """
    session.execute(
        update(Conversation)
        .where(
            Conversation.channel == identity.channel,
            Conversation.address == identity.external_user_id,
            Conversation.customer_id == customer.id,
        )
        .values(address="")
        .execution_options(synchronize_session=False)
    )
    session.delete(identity)
    _audit_identity(session, customer, "identity.unlink", identity.channel)


def _audit_identity(session: Session, customer: Customer, action: str, channel: str) -> None:
    """A customer's own change to their linked accounts (the channel, never the account id)."""
    actor = f"customer:{customer.external_id}"
    audit(session, actor=actor, action=action, subject=actor, detail={"channel": channel})


def _identity(session: Session, channel: str, user_id: str) -> ChannelIdentity | None:
    return session.scalars(
        select(ChannelIdentity).where(
            ChannelIdentity.channel == channel, ChannelIdentity.external_user_id == user_id
        )
    ).first()


def customer_segment(session: Session, *, customer: Customer, now: datetime | None = None) -> str:
    """"vip", "returning" or "new" (at most one order, whatever its status).

    Cancelled orders count toward neither VIP measure: nothing was bought.
    """
    settings = get_settings()
    since = as_utc(now or utcnow()) - timedelta(days=365)
    bought = and_(Order.customer_id == customer.id, Order.status != OrderStatus.cancelled)
    spend = session.scalar(select(func.coalesce(func.sum(Order.total), 0)).where(bought))
    recent = session.scalar(select(func.count(Order.id)).where(bought, Order.placed_at >= since))
    if Decimal(str(spend)) >= Decimal(str(settings.vip_spend_threshold)) or (
        recent or 0
    ) >= settings.vip_order_threshold:
        return "vip"
    orders = session.scalar(select(func.count(Order.id)).where(Order.customer_id == customer.id))
    return "new" if (orders or 0) <= 1 else "returning"


def set_marketing_consent(
    session: Session, *, customer: Customer, granted: bool, source: str, actor: str | None = None
) -> Customer:
    """Record the customer's marketing choice; `source` is the channel it came
    from ("telegram", "web", ...), `actor` who recorded it (default: the customer)."""
    customer.marketing_opt_in = granted
    record_consent(session, customer=customer, kind="marketing", granted=granted, source=source, actor=actor)
    return customer


def _conversations_of(customer: Customer) -> ColumnElement[bool]:
    """Conversations about this customer: linked ones, those handed to staff
    on their behalf, and those that came from their phone number or a linked
    channel account before they were verified."""
    clauses = [
        Conversation.customer_id == customer.id,
        Conversation.id.in_(select(Handoff.conversation_id).where(Handoff.customer_id == customer.id)),
    ]
    if customer.phone:
        clauses.append(and_(Conversation.channel == "sms", Conversation.address == customer.phone))
    for identity in customer.identities:
        clauses.append(
            and_(
                Conversation.channel == identity.channel,
                Conversation.address == identity.external_user_id,
            )
        )
    return or_(*clauses)


_PROFILE_FIELDS = ("first_name", "last_name", "email", "phone", "locale", "marketing_opt_in")


def stored_data_summary(session: Session, *, customer: Customer) -> dict[str, int]:
    """What we hold about the customer, as category -> count (no content)."""
    conversation_ids = select(Conversation.id).where(_conversations_of(customer))
    order_ids = select(Order.id).where(Order.customer_id == customer.id)

    def count(stmt: object) -> int:
        return int(session.scalar(stmt) or 0)  # type: ignore[call-overload]

    return {
        "profile_fields": sum(
            1 for field in _PROFILE_FIELDS if getattr(customer, field) not in (None, "")
        ),
        "orders": count(select(func.count()).select_from(order_ids.subquery())),
        "returns": count(
            select(func.count(ReturnRequest.id)).where(ReturnRequest.order_id.in_(order_ids))
        ),
        "conversations": count(select(func.count()).select_from(conversation_ids.subquery())),
        "messages": count(
            select(func.count(Message.id)).where(Message.conversation_id.in_(conversation_ids))
        ),
        "feedback": count(
            select(func.count(Feedback.id)).where(
                or_(Feedback.customer_id == customer.id, Feedback.conversation_id.in_(conversation_ids))
            )
        ),
        "consent_records": count(
            select(func.count(Consent.id)).where(Consent.customer_id == customer.id)
        ),
        "channel_identities": count(
            select(func.count(ChannelIdentity.id)).where(ChannelIdentity.customer_id == customer.id)
        ),
    }


def erase_customer(session: Session, *, customer: Customer, actor: str) -> list[str]:
    """Delete the customer and everything about them; return the erased
    conversation ids so the caller can erase them from Rasa's tracker store.

    Leaves one audit entry holding the shop's customer id and counts only, so
    that a later CSV import can refuse to bring the person back.
    """
    conversation_ids = sorted(
        session.scalars(select(Conversation.id).where(_conversations_of(customer))).all()
    )
    order_ids = select(Order.id).where(Order.customer_id == customer.id)
    counts = stored_data_summary(session, customer=customer)
    _forget_elsewhere(session, customer=customer, conversation_ids=conversation_ids)

    def wipe(stmt: object) -> int:
        # "fetch" also removes the deleted rows from the identity map, so
        # objects the caller still holds cannot resurrect them on flush.
        result = session.execute(stmt, execution_options={"synchronize_session": "fetch"})  # type: ignore[call-overload]
        return int(result.rowcount or 0)

    # Children first: no reliance on ON DELETE CASCADE, which SQLite only
    # honours with foreign keys switched on.
    handoffs = wipe(
        delete(Handoff).where(
            or_(Handoff.conversation_id.in_(conversation_ids), Handoff.customer_id == customer.id)
        )
    )
    # Review items quote (masked) messages; NPS invitations say when they were asked.
    wipe(delete(ReviewItem).where(ReviewItem.conversation_id.in_(conversation_ids)))
    wipe(delete(NpsInvitation).where(NpsInvitation.customer_id == customer.id))
    wipe(delete(Message).where(Message.conversation_id.in_(conversation_ids)))
    wipe(
        delete(Feedback).where(
            or_(Feedback.customer_id == customer.id, Feedback.conversation_id.in_(conversation_ids))
        )
    )
    forget_shop_traces(session, customer=customer, wipe=wipe)
    wipe(delete(Conversation).where(Conversation.id.in_(conversation_ids)))
    wipe(delete(ReturnRequest).where(ReturnRequest.order_id.in_(order_ids)))
    wipe(delete(OrderLine).where(OrderLine.order_id.in_(order_ids)))
    wipe(delete(Order).where(Order.customer_id == customer.id))
    wipe(delete(Consent).where(Consent.customer_id == customer.id))
    wipe(delete(ChannelIdentity).where(ChannelIdentity.customer_id == customer.id))
    external_id = customer.external_id
    wipe(delete(Customer).where(Customer.id == customer.id))

    detail = {key: value for key, value in counts.items() if key != "profile_fields"}
    detail["handoffs"] = handoffs
    audit(
        session,
        actor="customer:erased" if actor == f"customer:{external_id}" else actor,
        action="customer.erase",
        subject=f"customer:{erased_tag(external_id)}",
        detail=detail,
    )
    session.flush()
    return conversation_ids


def erased_tag(external_id: str) -> str:
    """How the audit log remembers an erased customer: a one-way tag, not their id.

    A later CSV row with the same id produces the same tag, so the importer can
    still refuse to bring the person back."""
    return "erased-" + hashlib.sha256(f"erased-customer/v1\x00{external_id}".encode()).hexdigest()[:32]


def _forget_elsewhere(session: Session, *, customer: Customer, conversation_ids: list[str]) -> None:
    """What names the customer outside their own rows: earlier audit entries and verification counters."""
    external_id = customer.external_id
    numbers = list(session.scalars(select(Order.number).where(Order.customer_id == customer.id)))
    subjects = [f"customer:{external_id}", *(f"conversation:{c}" for c in conversation_ids)]
    subjects += [f"order:{n}" for n in numbers]
    session.execute(
        update(AuditEntry)
        .where(AuditEntry.actor == f"customer:{external_id}"[:64])
        .values(actor="customer:erased")
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(AuditEntry)
        .where(AuditEntry.subject.in_([subject[:128] for subject in subjects]))
        .values(subject="erased")
        .execution_options(synchronize_session=False)
    )
    addresses = [
        f"{channel}:{address}"
        for channel, address in session.execute(
            select(Conversation.channel, Conversation.address).where(Conversation.id.in_(conversation_ids))
        )
    ]
    if customer.phone:
        addresses.append(f"sms:{customer.phone}")
    addresses += [
        f"{identity.channel}:{identity.external_user_id}"
        for identity in session.scalars(select(ChannelIdentity).where(ChannelIdentity.customer_id == customer.id))
    ]
    values = [("email", customer.email or ""), *(("order", n) for n in numbers)]
    values += [("client", verification_limits.client_fingerprint(a)) for a in addresses]
    verification_limits.forget(session, values=values)
