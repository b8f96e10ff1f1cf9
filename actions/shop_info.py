"""Shop knowledge: delivery, returns, payment, account help, how to order.

Every fact comes from the shop profile (shop.yml), which the owner edits
without touching code; this module only words it. The texts live here rather
than in the domain because Rasa's validator flags any response that no rule
or story uses, and these are only ever sent from this action.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import latest_intent
from crm.shop import DeliveryOption, ShopProfile, ShopProfileError, load_shop_profile

logger = logging.getLogger(__name__)

SHOP_INTENTS = (
    "delivery_info",
    "return_policy",
    "cancellation_fee",
    "payment_methods",
    "payment_issue",
    "account_help",
    "place_order",
)

PERSON_BUTTON = {"title": "Talk to a person", "payload": "/request_human"}
# Asking what cancelling costs is not yet asking to cancel: offer, don't start.
CANCEL_BUTTON = {"title": "Cancel an order", "payload": "/cancel_order"}

_CURRENCY_SYMBOLS = {"GBP": "£", "EUR": "€", "USD": "$"}

_COUNTRIES = {
    "GB": "the UK",
    "IE": "Ireland",
    "FR": "France",
    "DE": "Germany",
    "NL": "the Netherlands",
    "BE": "Belgium",
    "LU": "Luxembourg",
    "DK": "Denmark",
    "SE": "Sweden",
    "ES": "Spain",
    "PT": "Portugal",
    "IT": "Italy",
    "AT": "Austria",
    "FI": "Finland",
    "NO": "Norway",
    "CH": "Switzerland",
    "PL": "Poland",
    "CZ": "Czechia",
    "US": "the United States",
    "CA": "Canada",
}


def money(amount: Decimal | float | int, currency: str) -> str:
    """£3.95, €12.50; unknown currencies as "12.50 CHF"."""
    value = f"{Decimal(str(amount)):.2f}"
    symbol = _CURRENCY_SYMBOLS.get(currency.upper())
    return f"{symbol}{value}" if symbol else f"{value} {currency.upper()}"


def join_words(items: list[str]) -> str:
    """"a", "a and b", "a, b and c"."""
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} and {items[-1]}"


def _days(option: DeliveryOption) -> str:
    if option.min_days == option.max_days:
        days = option.min_days
        return "next working day" if days == 1 else f"{days} working days"
    return f"{option.min_days}–{option.max_days} working days"


def delivery_text(profile: ShopProfile) -> str:
    delivery = profile.delivery
    countries = join_words([_COUNTRIES.get(code.upper(), code.upper()) for code in delivery.countries])
    lines = [f"We deliver to {countries}."]
    for option in delivery.options:
        line = f"• {option.name}: {money(option.price, profile.currency)}, {_days(option)}"
        lines.append(f"{line}. {option.note}" if option.note else f"{line}.")
    if delivery.free_shipping_threshold is not None:
        lines.append(
            f"Orders over {money(delivery.free_shipping_threshold, profile.currency)} ship free."
        )
    if delivery.dispatch:
        lines.append(delivery.dispatch)
    return "\n".join(lines)


def returns_text(profile: ShopProfile) -> str:
    returns = profile.returns
    return "\n".join(
        [
            f"You can return items within {returns.window_days} days of delivery. {returns.condition}",
            returns.return_shipping,
            f"Once your return reaches us, we refund you within {returns.refund_business_days} "
            "working days, to the way you paid.",
            returns.cancellation,
            "If you'd like to start a return, just tell me — I'll need your order number.",
        ]
    )


def cancellation_text(profile: ShopProfile) -> str:
    returns = profile.returns
    return "\n".join(
        [
            returns.cancellation,
            f"Once it has arrived, you can still return items within {returns.window_days} days "
            f"of delivery. {returns.return_shipping}",
            "If you'd like to cancel an order, tap below or tell me which one.",
        ]
    )


def payment_methods_text(profile: ShopProfile) -> str:
    return f"You can pay with {join_words(list(profile.payment.methods))}."


def payment_issue_text(profile: ShopProfile) -> str:
    return (
        f"Sorry you're having trouble paying. {profile.payment.issue_advice}\n"
        "If that doesn't sort it out, I can get you a person — just tap below."
    )


def contact_text(profile: ShopProfile) -> str:
    contact = profile.contact
    lines = [
        f"You can e-mail us at {contact.email} or call {contact.phone}.",
        f"Opening hours: {contact.hours}",
    ]
    if contact.address:
        lines.append(f"Our address: {contact.address}")
    return "\n".join(lines)


def profile_unavailable(dispatcher: CollectingDispatcher, error: ShopProfileError) -> None:
    """Tell the customer something true when shop.yml is broken, and the owner why."""
    logger.error("shop profile unavailable: %s", error)
    dispatcher.utter_message(
        text="Sorry, I can't look that up right now. A member of our team can help you with it.",
        buttons=[PERSON_BUTTON],
    )


def _shop_intent(tracker: Tracker) -> str | None:
    """The question being answered: the latest message, or the last shop
    question before it when the action runs as a follow-up."""
    intent = latest_intent(tracker)
    if intent in SHOP_INTENTS:
        return intent
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            name = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
            if name in SHOP_INTENTS:
                return name
    return None


class ActionShopInfo(Action):
    """Answers delivery, returns, payment, account and ordering questions."""

    def name(self) -> str:
        return "action_shop_info"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        try:
            profile = load_shop_profile()
        except ShopProfileError as error:
            profile_unavailable(dispatcher, error)
            return [SlotSet("handoff_offered", False)]

        intent = _shop_intent(tracker)
        if intent == "delivery_info":
            dispatcher.utter_message(text=delivery_text(profile))
        elif intent == "return_policy":
            dispatcher.utter_message(text=returns_text(profile))
        elif intent == "cancellation_fee":
            dispatcher.utter_message(text=cancellation_text(profile), buttons=[CANCEL_BUTTON])
        elif intent == "payment_methods":
            dispatcher.utter_message(text=payment_methods_text(profile))
        elif intent == "payment_issue":
            dispatcher.utter_message(text=payment_issue_text(profile), buttons=[PERSON_BUTTON])
            # "yes" now means "get me that person" (see data/rules/handoff.yml).
            return [SlotSet("handoff_offered", True)]
        elif intent == "account_help":
            dispatcher.utter_message(text=profile.account_help)
        elif intent == "place_order":
            dispatcher.utter_message(text=profile.how_to_order)
        else:
            dispatcher.utter_message(
                text=f"I can tell you about delivery, returns, payment and your account. "
                f"What would you like to know?\n{contact_text(profile)}"
            )
        return [SlotSet("handoff_offered", False)]
