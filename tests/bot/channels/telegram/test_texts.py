"""bot/channels/telegram/texts.py: what the channel says fits one Telegram message, and the
texts that tell the customer to tap the contact button name it as the button reads."""

from __future__ import annotations

import pytest

from bot.channels import telegram
from bot.channels.telegram import texts
from bot.channels.telegram.wire import TEXT_LIMIT

SAID = {name: value for name, value in vars(texts).items() if name.isupper() and isinstance(value, str)}


def test_the_package_offers_every_text() -> None:
    assert len(SAID) >= 15
    assert {name: getattr(telegram, name) for name in SAID} == SAID


@pytest.mark.parametrize("name", sorted(SAID))
def test_each_text_is_one_finished_message_without_placeholders(name: str) -> None:
    text = SAID[name]
    assert 0 < len(text) <= TEXT_LIMIT
    assert text == text.strip() and "{" not in text and "}" not in text
    if name != "SHARE_PHONE_BUTTON":
        assert text[-1] in ".!?:", name


def test_the_texts_name_the_contact_button_by_its_label() -> None:
    label = texts.SHARE_PHONE_BUTTON.split(" ", 1)[1]  # without the emoji
    assert label == "Share my phone number"
    for text in (texts.WELCOME_VERIFY, texts.NOT_OWN_CONTACT):
        assert f"“{label}”" in text


def test_a_greeting_and_the_invitation_to_verify_read_as_one_welcome() -> None:
    welcome = f"{texts.WELCOME}\n\n{texts.WELCOME_VERIFY}"
    assert len(welcome) <= TEXT_LIMIT
    assert texts.WELCOME_BACK != texts.WELCOME
