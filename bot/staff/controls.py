"""Which buttons a staff member sees on a conversation, from its state and assignee."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from bot.persistence import states
from bot.staff.context import Principal
from crm.models import ConversationState


@dataclass(frozen=True)
class Controls:
    state: str
    status: str
    assignee_name: str | None
    can_assign: bool
    take_over: bool
    can_reply: bool
    can_resolve: bool

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def controls_for(
    principal: Principal, state: ConversationState, assignee_id: int | None, assignee_name: str | None
) -> Controls:
    mine = state == ConversationState.assigned and assignee_id == principal.id
    if state == ConversationState.queued:
        status = "Waiting in the queue"
    elif state == ConversationState.assigned:
        status = "Assigned to you" if mine else f"Assigned to {assignee_name or 'a colleague'}"
    elif state == ConversationState.resolved:
        status = "Resolved — handing back to the assistant"
    else:
        status = "With the assistant"
    can_assign = state in (ConversationState.bot, ConversationState.queued) or (
        state == ConversationState.assigned and not mine and principal.is_admin
    )
    return Controls(
        state=state.value,
        status=status,
        assignee_name=assignee_name,
        can_assign=can_assign,
        take_over=state != ConversationState.queued,
        can_reply=mine,
        can_resolve=mine or (principal.is_admin and state in states.HELD_STATES),
    )
