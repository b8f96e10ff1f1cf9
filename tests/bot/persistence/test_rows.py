"""bot/persistence/rows.py: conversation rows created, found, and bound to a customer once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from bot.persistence import rows
from crm.models import Customer
from crm.vocabulary import ConversationState


def test_rows_create_find_and_bind_a_customer_once(
    unit: Callable[..., Any], new_conversation: Callable[..., Any], customer: Customer
) -> None:
    first = new_conversation()
    assert first.state is ConversationState.bot and first.customer_external_id is None
    assert unit(rows.find_conversation, channel="web", address="addr").id == first.id
    bound = unit(rows.bind_customer, conversation_id=first.id, customer_external_id="C001")
    assert bound.customer_external_id == "C001"
    with pytest.raises(LookupError):
        new_conversation(customer="C404")
    assert unit(rows.bind_customer, conversation_id="nope", customer_external_id="C001") is None
