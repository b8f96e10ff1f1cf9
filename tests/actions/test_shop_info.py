"""Shop knowledge, worded from the shop profile."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import actions.shop_info
from actions.shop_info import ActionShopInfo, money
from crm.settings import get_settings
from crm.shop import load_shop_profile
from tests.actions.tracker_support import make_tracker, run_action, slot_events, texts, user_event


@pytest.fixture
def profile_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of shop.yml the test may edit; the action reads it."""
    data = yaml.safe_load(get_settings().shop_profile.read_text(encoding="utf-8"))
    path = tmp_path / "shop.yml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    monkeypatch.setattr(actions.shop_info, "load_shop_profile", lambda: load_shop_profile(path))
    return path


def _edit(path: Path, **changes: object) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    for dotted, value in changes.items():
        node = data
        *parents, leaf = dotted.split("__")
        for key in parents:
            node = node[key]
        node[leaf] = value
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def _ask(intent: str, text: str = "question") -> tuple[dict[str, object], str, list[dict[str, object]]]:
    events, messages = run_action(ActionShopInfo(), make_tracker(text=text, intent=intent))
    return slot_events(events), texts(messages), messages


def test_delivery_options_come_from_the_profile(profile_file: Path) -> None:
    _edit(profile_file, delivery__free_shipping_threshold=75)
    slots, said, _ = _ask("delivery_info", "how much is shipping")
    assert "Standard delivery: £3.95, 2–4 working days" in said
    assert "Express delivery: £6.95, next working day" in said
    assert "Orders over £75.00 ship free." in said
    assert "Ireland" in said and "the UK" in said
    assert slots == {"handoff_offered": False}


def test_the_return_policy_follows_the_profile(profile_file: Path) -> None:
    _edit(profile_file, returns__window_days=14)
    _, said, _ = _ask("return_policy")
    assert "within 14 days of delivery" in said
    assert load_shop_profile(profile_file).returns.cancellation in said


def test_cancellation_terms_follow_the_profile_and_only_offer_to_cancel(profile_file: Path) -> None:
    _edit(profile_file, returns__cancellation="Cancelling costs £2 once we have packed it.")
    slots, said, messages = _ask("cancellation_fee", "do you charge anything if I cancel")
    assert said.startswith("Cancelling costs £2 once we have packed it.")
    assert "within 30 days of delivery" in said
    assert messages[0]["buttons"] == [{"title": "Cancel an order", "payload": "/cancel_order"}]
    assert slots == {"handoff_offered": False}


def test_payment_methods(profile_file: Path) -> None:
    _, said, _ = _ask("payment_methods")
    assert said == (
        "You can pay with Visa, Mastercard, American Express, PayPal, Apple Pay, Google Pay and Klarna."
    )


def test_a_payment_problem_gets_advice_and_the_offer_of_a_person(profile_file: Path) -> None:
    slots, said, messages = _ask("payment_issue", "i was charged twice")
    assert load_shop_profile(profile_file).payment.issue_advice in said
    assert messages[0]["buttons"] == [{"title": "Talk to a person", "payload": "/request_human"}]
    assert slots == {"handoff_offered": True}


@pytest.mark.parametrize(
    ("intent", "field"), [("account_help", "account_help"), ("place_order", "how_to_order")]
)
def test_account_help_and_how_to_order(profile_file: Path, intent: str, field: str) -> None:
    _edit(profile_file, **{field: "Edited by the owner."})
    _, said, _ = _ask(intent)
    assert said == "Edited by the owner."


def test_as_a_follow_up_it_answers_the_last_shop_question(profile_file: Path) -> None:
    history = [user_event("how do i pay", "payment_methods")]
    tracker = make_tracker(text="yes", intent="affirm", history=history)
    _, messages = run_action(ActionShopInfo(), tracker)
    assert texts(messages).startswith("You can pay with")


def test_a_broken_profile_gets_an_honest_answer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    broken = tmp_path / "shop.yml"
    broken.write_text("name: [unclosed", encoding="utf-8")
    monkeypatch.setattr(actions.shop_info, "load_shop_profile", lambda: load_shop_profile(broken))
    slots, said, messages = _ask("delivery_info")
    assert said.startswith("Sorry, I can't look that up right now")
    assert messages[0]["buttons"][0]["payload"] == "/request_human"
    assert slots == {"handoff_offered": False}


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [("3.95", "GBP", "£3.95"), (50, "EUR", "€50.00"), ("12.5", "CHF", "12.50 CHF")],
)
def test_money(amount: object, currency: str, expected: str) -> None:
    assert money(amount, currency) == expected  # type: ignore[arg-type]
