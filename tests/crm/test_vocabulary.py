"""crm.vocabulary: the enums the schema and the gateway's message types share, stored as plain strings."""

from __future__ import annotations

import crm.models
from crm.vocabulary import ConversationState, Sender


def test_the_values_are_the_strings_the_database_and_the_gateway_use() -> None:
    assert [s.value for s in ConversationState] == ["bot", "queued", "assigned", "resolved"]
    assert [s.value for s in Sender] == ["customer", "bot", "agent", "system"]
    # str enums: a value read back from a row or a JSON body compares equal to the member.
    assert ConversationState("queued") is ConversationState.queued and ConversationState.queued == "queued"
    assert Sender("agent") is Sender.agent and Sender.agent == "agent"


def test_the_models_use_these_very_enums() -> None:
    assert crm.models.ConversationState is ConversationState
    assert crm.models.Sender is Sender
