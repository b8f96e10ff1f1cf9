"""The CRM schema: SQLAlchemy 2 typed models.

One shop's customers, what they bought, and every conversation they had with
the shop. Timestamps are timezone-aware UTC. Identifiers the shop already uses
(customer ids from its spreadsheet, order numbers) are kept as strings because
shops write them with letters and leading zeros.

By idea: `base` (the declarative base), `customers`, `orders`, `conversations`,
`shop` (the shop platform) and `notices` (the outbox and order notices). Every
model is re-exported here: `from crm.models import X` is the way to import one,
and importing this package registers every table on `Base.metadata` (what
alembic compares against).
"""

from crm.models.base import Base, string_enum, utcnow
from crm.models.conversations import (
    Conversation,
    ConversationState,
    Delivery,
    Feedback,
    Handoff,
    HandoffStatus,
    Message,
    NpsInvitation,
    ReviewItem,
    Sender,
    StaffRole,
    StaffUser,
    TurnState,
)
from crm.models.customers import AuditEntry, ChannelIdentity, Consent, Customer, TelegramLinkClaim, VerificationFailure
from crm.models.notices import Notice, NoticeStatus, OutboxMessage
from crm.models.orders import Order, OrderLine, OrderStatus, Product, ReturnRequest, ReturnStatus
from crm.models.shop import ApiKey, ShopEvent, ShopRequest, ShopRequestKind, ShopRequestStatus

__all__ = [
    "ApiKey",
    "AuditEntry",
    "Base",
    "ChannelIdentity",
    "Consent",
    "Conversation",
    "ConversationState",
    "Delivery",
    "Customer",
    "Feedback",
    "Handoff",
    "HandoffStatus",
    "Message",
    "Notice",
    "NoticeStatus",
    "NpsInvitation",
    "Order",
    "OrderLine",
    "OrderStatus",
    "OutboxMessage",
    "Product",
    "ReturnRequest",
    "ReturnStatus",
    "ReviewItem",
    "Sender",
    "ShopEvent",
    "ShopRequest",
    "ShopRequestKind",
    "ShopRequestStatus",
    "StaffRole",
    "StaffUser",
    "TelegramLinkClaim",
    "TurnState",
    "VerificationFailure",
    "string_enum",
    "utcnow",
]
