"""What we hold about a customer, their marketing consent, and erasure.

All three act only for a verified customer. The rules already send everyone
else through verification first; each action checks again itself, because a
rule is a prediction, not a guarantee.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import NEEDS_VERIFICATION, CustomerRun, VerifiedCustomerAction, channel, latest_intent
from actions.shop_info import join_words
from crm.services.audit import audit
from crm.services.customers import erase_customer, set_marketing_consent, stored_data_summary
from crm.shop import ShopProfileError, load_shop_profile

logger = logging.getLogger(__name__)

# Category -> (singular, plural) as a customer would say it.
_CATEGORY_WORDS = {
    "profile_fields": (
        "profile detail (name, e-mail, phone and so on)",
        "profile details (name, e-mail, phone and so on)",
    ),
    "orders": ("order", "orders"),
    "returns": ("return or refund", "returns and refunds"),
    "conversations": ("conversation with us", "conversations with us"),
    "messages": ("message in those conversations", "messages in those conversations"),
    "feedback": ("rating you gave us", "ratings you gave us"),
    "consent_records": ("record of your marketing choices", "records of your marketing choices"),
    "channel_identities": ("linked chat account (like Telegram)", "linked chat accounts (like Telegram)"),
}


def describe_counts(summary: dict[str, int]) -> list[str]:
    """{"orders": 3, "returns": 0} -> ["3 orders"]; unknown categories keep their key."""
    lines = []
    for category, count in summary.items():
        if not count:
            continue
        singular, plural = _CATEGORY_WORDS.get(
            category, (category.replace("_", " "), category.replace("_", " "))
        )
        lines.append(f"{count} {singular if count == 1 else plural}")
    return lines


class ActionDataSummary(VerifiedCustomerAction):
    def name(self) -> str:
        return "action_data_summary"

    def act(self, run: CustomerRun) -> list[EventType]:
        summary = stored_data_summary(run.session, customer=run.customer)
        # A subject access request is itself worth a trace (counts only).
        audit(
            run.session,
            actor=f"customer:{run.customer.external_id}",
            action="customer.data_summary",
            subject=f"customer:{run.customer.external_id}",
        )
        items = "\n".join(f"• {line}" for line in describe_counts(summary))
        marketing = (
            "You're subscribed to our newsletter."
            if run.customer.marketing_opt_in
            else "You're not subscribed to our newsletter."
        )
        run.dispatcher.utter_message(
            text=f"Here's what we hold about you:\n{items}\n{marketing}\n"
            "We use it only to handle your orders and questions. If you'd like a copy, or want "
            "anything corrected, our team can help — and you can ask me to delete it all.",
            buttons=[
                {"title": "Delete my data", "payload": "/delete_account"},
                {"title": "Talk to a person", "payload": "/request_human"},
            ],
        )
        return []


_UNSUBSCRIBE = re.compile(
    r"\b(unsub\w*|un-subscribe|opt(?:ing)?[\s-]*out|stop|remove|take me off|get me off|"
    r"get off|cancel|no (?:more|longer)|don'?t (?:send|want|email|e-mail)|do not (?:send|want)|"
    r"not interested|too many|spam\w*|quit)\b",
    re.IGNORECASE,
)
_SUBSCRIBE = re.compile(
    r"\b(subscribe|sign(?:ing)? (?:me )?up|sign-?up|opt(?:ing)?[\s-]*in|join|add me|"
    r"start|get|receive|want|like|keen)\b",
    re.IGNORECASE,
)


def newsletter_choice(text: str | None) -> bool | None:
    """True to subscribe, False to unsubscribe, None when the message doesn't say."""
    if not text:
        return None
    if _UNSUBSCRIBE.search(text):
        return False
    if _SUBSCRIBE.search(text):
        return True
    return None


def _newsletter_request_text(tracker: Tracker) -> str | None:
    """The customer's newsletter message, even when this runs after verification."""
    for event in reversed(tracker.events):
        if event.get("event") != "user":
            continue
        intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
        if intent == "newsletter":
            text = event.get("text")
            return text if isinstance(text, str) else None
    return None


class ActionNewsletter(VerifiedCustomerAction):
    """Subscribe or unsubscribe as the customer's newsletter message says; ask if it doesn't."""

    def name(self) -> str:
        return "action_newsletter"

    def choice(self, tracker: Tracker) -> bool | None:
        return newsletter_choice(_newsletter_request_text(tracker))

    def unverified(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
        return [*super().unverified(dispatcher, tracker), SlotSet("newsletter_asked", False)]

    def act(self, run: CustomerRun) -> list[EventType]:
        choice = self.choice(run.tracker)
        if choice is None:
            run.dispatcher.utter_message(
                text=f"{_about_newsletter()}Would you like to get it?",
                buttons=[
                    {"title": "Yes, subscribe me", "payload": "/affirm"},
                    {"title": "No, unsubscribe me", "payload": "/deny"},
                ],
            )
            return [SlotSet("newsletter_asked", True)]
        if run.customer.marketing_opt_in != choice:
            set_marketing_consent(
                run.session, customer=run.customer, granted=choice, source=channel(run.tracker)
            )
            logger.info("marketing consent changed by customer: granted=%s", choice)
        if choice:
            run.dispatcher.utter_message(
                text="Done — you're subscribed to our newsletter. You can unsubscribe any time, "
                "from any e-mail or by telling me."
            )
        else:
            run.dispatcher.utter_message(
                text="Done — you won't get any more marketing e-mails from us. You'll still get "
                "e-mails about your orders and deliveries."
            )
        return [SlotSet("newsletter_asked", False)]


class ActionNewsletterAnswer(ActionNewsletter):
    """The yes/no answer to "would you like our newsletter?".

    A separate action because it resets `newsletter_asked`: the rules that
    lead here condition on that slot, and only an action of their own can
    change it without obliging every other rule to list it.
    """

    def name(self) -> str:
        return "action_newsletter_answer"

    def choice(self, tracker: Tracker) -> bool | None:
        intent = latest_intent(tracker)
        if tracker.get_slot("newsletter_asked") and intent in ("affirm", "deny"):
            return intent == "affirm"
        return super().choice(tracker)


def _about_newsletter() -> str:
    try:
        return f"{load_shop_profile().newsletter} "
    except ShopProfileError as error:
        logger.error("shop profile unavailable: %s", error)
        return ""


# Slots that say who the customer is or what they asked about: none of it may
# outlive their erasure, in this conversation or anywhere else.
_IDENTITY_SLOTS: dict[str, Any] = {
    "customer_id": None,
    "verified": False,
    "customer_first_name": None,
    "order_number": None,
    "email": None,
    "product": None,
    "pending_request": None,
    "resolved_request": None,
}


class ActionEraseCustomerData(VerifiedCustomerAction):
    def name(self) -> str:
        return "action_erase_customer_data"

    def act(self, run: CustomerRun) -> list[EventType]:
        summary = stored_data_summary(run.session, customer=run.customer)
        customer = run.customer
        erased = erase_customer(run.session, customer=customer, actor=f"customer:{customer.external_id}")
        conversations = list(dict.fromkeys([*erased, run.tracker.sender_id]))
        logger.info("customer erased on request: %d conversations", len(conversations))

        what = join_words(describe_counts(summary)) or "your details"
        run.dispatcher.utter_message(
            text=f"Done. I've deleted {what}. We keep only a note that an erasure took place, "
            "with no personal details in it. This conversation will be deleted too. Take care!"
        )
        slots = {name: value for name, value in _IDENTITY_SLOTS.items() if name in _domain_slots(run.domain)}
        return [
            SlotSet("erased_conversations", conversations),
            *(SlotSet(name, value) for name, value in slots.items()),
        ]


def _domain_slots(domain: dict[str, Any]) -> set[str]:
    slots = domain.get("slots") or {}
    # An empty domain (some unit tests) means "don't know": reset them all.
    return set(slots) if slots else set(_IDENTITY_SLOTS)
