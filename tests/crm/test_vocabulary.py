"""The word-list enums: their values are stored in the database and sent on the wire, so they never change."""

from __future__ import annotations

import enum
import pickle

import pytest

from crm.models import OrderStatus, ReturnStatus, ShopRequestKind, ShopRequestStatus
from crm.vocabulary import ConversationState, Sender, Vocabulary

STORED = {
    ConversationState: ["bot", "queued", "assigned", "resolved"],
    Sender: ["customer", "bot", "agent", "system"],
    OrderStatus: ["placed", "paid", "shipped", "delivered", "cancelled", "returned"],
    ReturnStatus: ["requested", "approved", "received", "refunded", "rejected"],
    ShopRequestKind: ["cancel", "change_address", "return"],
    ShopRequestStatus: ["requested", "accepted", "refused"],
}


@pytest.mark.parametrize("vocabulary", list(STORED), ids=lambda v: v.__name__)
def test_values_are_the_stored_strings_in_order(vocabulary: type[enum.Enum]) -> None:
    assert [m.value for m in vocabulary] == STORED[vocabulary]
    assert all(type(m.value) is str for m in vocabulary)


@pytest.mark.parametrize("vocabulary", list(STORED), ids=lambda v: v.__name__)
def test_members_behave_as_a_str_enum_class_would(vocabulary: type[enum.Enum]) -> None:
    word = STORED[vocabulary][0]
    member = vocabulary(word)
    as_class = enum.Enum(vocabulary.__name__, [(m.name, m.value) for m in vocabulary], type=str)
    twin = as_class(word)
    assert member == word and isinstance(member, str)
    assert (str(member), f"{member}", repr(member)) == (str(twin), f"{twin}", repr(twin))
    assert vocabulary.__module__.startswith("crm.")
    assert pickle.loads(pickle.dumps(member)) is member


def test_a_keyword_takes_a_trailing_underscore_in_its_name_only() -> None:
    assert ShopRequestKind.return_.value == "return"
    assert ShopRequestKind("return") is ShopRequestKind.return_
    kinds = Vocabulary("Kinds", "pass_ plain", module=__name__)
    assert [(m.name, m.value) for m in kinds] == [("pass_", "pass"), ("plain", "plain")]


def test_str_enum_values_read_back_from_a_row_compare_equal_to_the_member() -> None:
    assert ConversationState("queued") is ConversationState.queued and ConversationState.queued == "queued"
    assert Sender("agent") is Sender.agent and Sender.agent == "agent"


def test_the_models_use_these_very_enums() -> None:
    import crm.models

    assert crm.models.ConversationState is ConversationState
    assert crm.models.Sender is Sender
