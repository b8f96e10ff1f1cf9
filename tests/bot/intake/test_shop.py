"""bot/intake/shop.py: what the SMS HELP and START answers say about the shop, from its profile."""

from __future__ import annotations

import logging
from collections.abc import Callable
from types import ModuleType

import pytest

from bot.intake import shop
from bot.intake.shop import ShopTexts, shop_texts
from crm.shop import load_shop_profile


def test_help_reply_names_the_shop_and_how_to_reach_it() -> None:
    texts = ShopTexts(
        name="Juniper & Oak", contact="help@shop.example or +44 20 7946 0321", hours="Mon-Fri 9-5"
    )
    assert texts.help_reply() == (
        "Juniper & Oak customer service: help@shop.example or +44 20 7946 0321. Mon-Fri 9-5. "
        "Reply STOP to opt out of texts."
    )
    assert "Juniper & Oak" in texts.start_reply() and "STOP" in texts.start_reply()


def test_hours_end_as_a_sentence_and_are_left_out_when_unknown() -> None:
    texts = ShopTexts(name="Juniper & Oak", contact="help@shop.example", hours=" Mon-Fri 9-5! ")
    assert texts.help_reply() == (
        "Juniper & Oak customer service: help@shop.example. Mon-Fri 9-5! Reply STOP to opt out of texts."
    )
    assert ShopTexts(name="J&O", contact="x@y.example").help_reply() == (
        "J&O customer service: x@y.example. Reply STOP to opt out of texts."
    )


def test_the_texts_come_from_the_shop_profile() -> None:
    profile = load_shop_profile()
    texts = shop_texts()
    assert texts.name == profile.name
    assert texts.contact == f"{profile.contact.email} or {profile.contact.phone}"
    assert texts.hours == profile.contact.hours
    assert texts.start_reply() == shop.START_ACK.format(shop=profile.name)


def test_a_profile_without_email_or_phone_gives_its_website(monkeypatch: pytest.MonkeyPatch) -> None:
    real = load_shop_profile()
    bare = real.model_copy(update={"contact": real.contact.model_copy(update={"email": None, "phone": None})})
    monkeypatch.setattr(shop, "load_shop_profile", lambda: bare)
    assert shop_texts().contact == real.website


def test_an_unreadable_profile_still_gives_something_true(
    unreadable_profile: Callable[[ModuleType], str], caplog: pytest.LogCaptureFixture
) -> None:
    where = unreadable_profile(shop)
    with caplog.at_level(logging.WARNING, "bot.intake.shop"):
        texts = shop_texts()
    assert texts.name == "Our shop" and "reply here" in texts.contact
    assert "Reply STOP" in texts.help_reply()
    assert any(where in r.getMessage() for r in caplog.records)
