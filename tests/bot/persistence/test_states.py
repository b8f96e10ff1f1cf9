"""bot/persistence/states.py: who holds a conversation, changed by compare-and-set."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from bot.persistence import states
from crm.models import StaffRole
from crm.vocabulary import ConversationState
from tests.bot.staff_support import create_staff


def test_states_assign_is_a_compare_and_set_and_resolve_needs_the_holder(
    unit: Callable[..., Any], new_conversation: Callable[..., Any], db: sessionmaker[Session]
) -> None:
    conversation = new_conversation()
    sam = create_staff(db, name="Sam Carter", role=StaffRole.agent)
    kim = create_staff(db, name="Kim Lee", role=StaffRole.agent)
    taken = unit(
        states.assign_conversation, conversation_id=conversation.id, staff_id=sam, may_take_over=False
    )
    assert taken.previous_state is ConversationState.bot and taken.notice is not None
    with pytest.raises(states.TransitionRefused) as refused:
        unit(states.assign_conversation, conversation_id=conversation.id, staff_id=kim, may_take_over=False)
    assert refused.value.reason == "taken"
    with pytest.raises(states.TransitionRefused):
        unit(states.resolve_conversation, conversation_id=conversation.id, staff_id=kim, may_take_over=False)
    resolved = unit(
        states.resolve_conversation, conversation_id=conversation.id, staff_id=sam, may_take_over=False
    )
    assert resolved.conversation.state is ConversationState.resolved
    assert unit(states.finish_resume, conversation_id=conversation.id)
    assert not unit(states.finish_resume, conversation_id=conversation.id)  # only once
