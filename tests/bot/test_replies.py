"""bot/replies.py: what the gateway itself says - the apology with the shop's contact, and the rest."""

from __future__ import annotations

import logging
from collections.abc import Callable
from types import ModuleType

import pytest

from bot import replies
from crm.shop import load_shop_profile


def test_the_apology_says_the_message_is_saved_and_how_to_reach_a_person() -> None:
    with_contact = replies.apology("help@shop.example or +44 20 7946 0321")
    assert "Your message is saved." in with_contact
    assert "You can reach our team at help@shop.example or +44 20 7946 0321, or try again" in with_contact
    without = replies.apology(None)
    assert "You can reach our team by e-mail or phone, or try again" in without


def test_the_contact_is_read_from_the_shop_profile() -> None:
    contact = load_shop_profile().contact
    assert replies.shop_contact() == f"{contact.email} or {contact.phone}"


def test_an_unreadable_profile_leaves_the_contact_out_and_says_why(
    unreadable_profile: Callable[[ModuleType], str], caplog: pytest.LogCaptureFixture
) -> None:
    where = unreadable_profile(replies)
    with caplog.at_level(logging.WARNING, "bot.replies"):
        assert replies.shop_contact() is None
    assert any(where in r.getMessage() for r in caplog.records)


def test_a_profile_with_neither_email_nor_phone_has_no_contact(monkeypatch: pytest.MonkeyPatch) -> None:
    real = load_shop_profile()
    bare = real.model_copy(update={"contact": real.contact.model_copy(update={"email": None, "phone": None})})
    monkeypatch.setattr(replies, "load_shop_profile", lambda: bare)
    assert replies.shop_contact() is None


def test_the_too_long_refusal_names_both_numbers() -> None:
    assert replies.TOO_LONG.format(length=2500, limit=2000) == (
        "That message is too long (2500 characters). Please keep it under 2000 characters."
    )
