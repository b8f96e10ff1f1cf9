"""What the gateway itself says to customers. Plain, true, and short."""

from __future__ import annotations

import logging

from crm.shop import ShopProfileError, load_shop_profile

logger = logging.getLogger(__name__)

HELD_NOTICE = (
    "Thanks — a member of our team will reply here as soon as they can. "
    "Your messages are kept, so there's no need to repeat them."
)
EMPTY_AFTER_NEUTRALISING = "Sorry, I didn't catch that. Could you type your question in words?"

TOO_LONG = "That message is too long ({length} characters). Please keep it under {limit} characters."
RATE_LIMITED = (
    "You're sending messages faster than we can read them. Please wait a few seconds and try again."
)
BAD_FRAME = "Sorry, that message couldn't be read. Please try sending it again."
BAD_PAYLOAD = (
    "That option is no longer available. Please pick one of the latest options or type your question."
)
EMPTY_MESSAGE = "Please type a message first."
UNAVAILABLE = "Sorry — your message couldn't be saved just now. Please try sending it again in a minute."


def shop_contact() -> str | None:
    """'help@shop or +44 …' from the shop profile, or None when it cannot be read."""
    try:
        contact = load_shop_profile().contact
    except ShopProfileError as exc:
        # The apology still goes out, only without the address; the owner sees why here.
        logger.warning("shop profile unreadable; apology sent without contact details: %s", exc)
        return None
    return " or ".join(part for part in (contact.email, contact.phone) if part) or None


def apology(contact: str | None) -> str:
    reach = f"You can reach our team at {contact}" if contact else "You can reach our team by e-mail or phone"
    return (
        "Sorry — I'm having trouble answering right now. Your message is saved. "
        f"{reach}, or try again in a minute."
    )
