"""Compatibility: the gateway's SQL moved to `bot.persistence`, one module per idea.

rows (conversation rows, customer lookups), transcript, claims (the inbound
de-duplication claim), states (staff transitions) and replies (a turn's bot
replies). Kept so that modules still importing `bot.store` keep working until
their imports are updated (see the old -> new table in the branch's report);
it defines nothing of its own.
"""

from bot.persistence.claims import Claim, claim_inbound
from bot.persistence.replies import SavedReplies, TurnContext, save_bot_replies, turn_context
from bot.persistence.rows import (
    CustomerConflict,
    bind_customer,
    create_conversation,
    customer_by_identity,
    customer_by_phone,
    customer_phone,
    customer_pk,
    database_ready,
    find_conversation,
    get_conversation,
    link_identity,
)
from bot.persistence.states import (
    HELD_STATES,
    Assignment,
    Resolution,
    TransitionRefused,
    add_staff_reply,
    assign_conversation,
    assignee,
    finish_resume,
    resolve_conversation,
)
from bot.persistence.transcript import TranscriptEntry, add_outbound, offered_payloads, transcript

__all__ = [
    "HELD_STATES",
    "Assignment",
    "Claim",
    "CustomerConflict",
    "Resolution",
    "SavedReplies",
    "TranscriptEntry",
    "TransitionRefused",
    "TurnContext",
    "add_outbound",
    "add_staff_reply",
    "assign_conversation",
    "assignee",
    "bind_customer",
    "claim_inbound",
    "create_conversation",
    "customer_by_identity",
    "customer_by_phone",
    "customer_phone",
    "customer_pk",
    "database_ready",
    "find_conversation",
    "finish_resume",
    "get_conversation",
    "link_identity",
    "offered_payloads",
    "resolve_conversation",
    "save_bot_replies",
    "transcript",
    "turn_context",
]
