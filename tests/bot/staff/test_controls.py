"""bot.staff.controls: which buttons a staff member sees on a conversation."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot.staff.context import Principal
from bot.staff.controls import controls_for
from crm.models import ConversationState, StaffRole

BOT, QUEUED = ConversationState.bot, ConversationState.queued
ASSIGNED, RESOLVED = ConversationState.assigned, ConversationState.resolved


@pytest.mark.parametrize(
    ("role", "state", "assignee", "status", "assign", "take_over", "reply", "resolve"),
    [
        (StaffRole.agent, BOT, None, "With the assistant", True, True, False, False),
        (StaffRole.agent, QUEUED, None, "Waiting in the queue", True, False, False, False),
        (StaffRole.agent, ASSIGNED, 1, "Assigned to you", False, True, True, True),
        (StaffRole.agent, ASSIGNED, 2, "Assigned to Alex Reed", False, True, False, False),
        (StaffRole.admin, ASSIGNED, 2, "Assigned to Alex Reed", True, True, False, True),
        (StaffRole.admin, QUEUED, None, "Waiting in the queue", True, False, False, True),
        (StaffRole.admin, RESOLVED, None, "Resolved — handing back to the assistant", False, True, False, False),
    ],
)
def test_buttons_follow_the_state_the_assignee_and_the_role(
    principal: Callable[..., Principal], role: StaffRole, state: ConversationState, assignee: int | None,
    status: str, assign: bool, take_over: bool, reply: bool, resolve: bool,
) -> None:
    name = {1: "Sam Carter", 2: "Alex Reed"}.get(assignee or 0)
    controls = controls_for(principal(1, role), state, assignee, name)
    assert (controls.status, controls.can_assign, controls.take_over, controls.can_reply, controls.can_resolve) == (
        status, assign, take_over, reply, resolve)
    assert controls.state == state.value


def test_a_colleague_without_a_name_is_a_colleague_and_the_json_has_every_field(principal: Callable[..., Principal]) -> None:
    controls = controls_for(principal(1), ASSIGNED, 2, None)
    assert controls.status == "Assigned to a colleague"
    assert controls.as_json() == {
        "state": "assigned", "status": "Assigned to a colleague", "assignee_name": None, "can_assign": False,
        "take_over": True, "can_reply": False, "can_resolve": False,
    }  # fmt: skip
