"""What an SMS looks like: numbered options, split long replies, keywords and picks."""

from __future__ import annotations

import re

import pytest

from bot.core.messages import Button, OutboundMessage
from bot.channels.sms import (
    MAX_SMS_CHARS,
    keyword_of,
    numbered_options,
    option_index,
    render,
    split_text,
)
from crm.models import Sender

YES_NO = (Button("Yes", "/affirm"), Button("No", "/deny"))
MENU = (
    Button("Where's my order?", "/track_order"),
    Button("Returns & refunds", "/return_policy"),
    Button("Delivery info", "/delivery_info"),
    Button("Talk to a person", "/request_human"),
)
SCORES = tuple(Button(str(n), f'/inform{{"rating":"{n}"}}') for n in range(1, 6))


def sentences(count: int) -> str:
    line = "Sentence number {} says something about the order and its parcel."
    return " ".join(line.format(n) for n in range(count))


# -- numbered options -------------------------------------------------------------------


def test_a_few_short_options_read_as_one_line() -> None:
    assert numbered_options(YES_NO) == "Reply 1 for Yes, 2 for No."


def test_many_or_long_options_become_a_list() -> None:
    assert numbered_options(MENU) == (
        "Reply with a number:\n"
        "1) Where's my order?\n2) Returns & refunds\n3) Delivery info\n4) Talk to a person"
    )


def test_options_that_are_their_own_numbers_are_not_repeated() -> None:
    assert numbered_options(SCORES) == "Reply with a number from 1 to 5."


def test_render_puts_the_options_after_the_text_and_links_an_image() -> None:
    outbound = OutboundMessage(
        id="1", sender=Sender.bot, text="Is that the one?", buttons=YES_NO, image="https://x.example/p.jpg"
    )
    assert render(outbound) == ["Is that the one?\nhttps://x.example/p.jpg\n\nReply 1 for Yes, 2 for No."]


# -- long replies -----------------------------------------------------------------------


def test_a_short_reply_is_one_message_without_a_counter() -> None:
    assert split_text("  Your parcel is on its way.  ") == ["Your parcel is on its way."]
    assert split_text("x" * MAX_SMS_CHARS) == ["x" * MAX_SMS_CHARS]


def test_a_long_reply_splits_at_sentence_ends_into_numbered_parts() -> None:
    text = sentences(60)  # about 4000 characters
    parts = split_text(text)
    assert len(parts) == 3
    assert all(len(p) <= MAX_SMS_CHARS for p in parts)
    bodies = []
    for n, part in enumerate(parts, 1):
        prefix = f"({n}/3) "
        assert part.startswith(prefix)
        bodies.append(part[len(prefix) :])
        if n < 3:
            assert bodies[-1].endswith("parcel."), bodies[-1][-40:]
    # Nothing lost, nothing added (only the whitespace at the cuts).
    assert " ".join(bodies) == text


def test_paragraph_breaks_win_over_sentence_ends() -> None:
    first = sentences(15)  # ~1000 characters: past half a message
    text = first + "\n\n" + sentences(15)
    parts = split_text(text)
    assert parts[0] == "(1/2) " + first


def test_a_word_longer_than_half_a_message_is_cut_where_it_must_be() -> None:
    text = "See " + "https://x.example/" + "a" * 3000
    parts = split_text(text)
    assert all(len(p) <= MAX_SMS_CHARS for p in parts)
    assert "".join(re.sub(r"^\(\d/\d\) ", "", p) for p in parts).replace(" ", "") == text.replace(" ", "")


def test_a_custom_limit_is_honoured() -> None:
    parts = split_text(sentences(10), limit=200)
    assert len(parts) > 3 and all(len(p) <= 200 for p in parts)


# -- keywords and picks ------------------------------------------------------------------


@pytest.mark.parametrize(
    "body", ["STOP", "stop", " Stop ", "STOPALL", "unsubscribe", "Cancel", "END", "quit", "stop."]
)
def test_stop_words(body: str) -> None:
    assert keyword_of(body, opted_out=False) == ("stop", body.strip().rstrip(".").upper())


@pytest.mark.parametrize("body", ["START", "unstop", "Start"])
def test_start_words(body: str) -> None:
    assert keyword_of(body, opted_out=True)[0] == "start"  # type: ignore[index]
    assert keyword_of(body, opted_out=False)[0] == "start"  # type: ignore[index]


def test_yes_restarts_only_a_number_that_opted_out() -> None:
    assert keyword_of("yes", opted_out=True) == ("start", "YES")
    assert keyword_of("yes", opted_out=False) is None


@pytest.mark.parametrize("body", ["HELP", "help", "Info"])
def test_help_words(body: str) -> None:
    assert keyword_of(body, opted_out=False) == ("help", body.upper())


@pytest.mark.parametrize(
    "body", ["stop sending me the wrong size", "help me track my order", "cancel my order"]
)
def test_keywords_count_only_as_the_whole_message(body: str) -> None:
    assert keyword_of(body, opted_out=False) is None


def test_twilio_advanced_opt_out_keywords_are_honoured() -> None:
    assert keyword_of("ARRET", opted_out=False, opt_out_type="STOP") == ("stop", "STOP")
    assert keyword_of("AIDE", opted_out=False, opt_out_type="HELP") == ("help", "HELP")


@pytest.mark.parametrize(("body", "index"), [("1", 1), (" 2 ", 2), ("#3", 3), ("4.", 4), ("12", 12)])
def test_option_picks(body: str, index: int) -> None:
    assert option_index(body) == index


@pytest.mark.parametrize("body", ["1043", "2 please", "one", "", "1,2"])
def test_not_option_picks(body: str) -> None:
    assert option_index(body) is None


def test_did_you_mean_reads_as_numbered_options_and_a_number_picks_one() -> None:
    # The two-stage fallback's question (actions/fallback.py) as a text message.
    from actions.fallback import ASK_WHICH, SOMETHING_ELSE, request_button

    choices = [request_button("refund_status", []), request_button("request_refund", []), SOMETHING_ELSE]
    buttons = tuple(Button(b["title"], b["payload"]) for b in choices)
    [text] = render(OutboundMessage(id="1", sender=Sender.bot, text=ASK_WHICH, buttons=buttons))
    assert text.startswith(ASK_WHICH)
    assert "1 for Check on a refund, 2 for Get a refund, 3 for Something else" in text
    assert buttons[option_index("2") - 1].payload == "/request_refund"
    # An order number typed in reply is an answer, not a pick.
    assert option_index("1044") is None
