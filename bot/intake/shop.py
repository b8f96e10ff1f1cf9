"""What the gateway's own answers say about the shop, read from the shop profile for channels."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from crm.shop import ShopProfileError, load_shop_profile

logger = logging.getLogger(__name__)

# STOP gets no answer from us: Twilio confirms it itself, and carriers allow
# nothing more to a number that opted out (Twilio refuses it: error 21610).
START_ACK = "You're subscribed to texts from {shop} again. Reply HELP for help, STOP to opt out."


@dataclass(frozen=True)
class ShopTexts:
    """What HELP and START answers say about the shop."""

    name: str
    contact: str
    hours: str = ""

    def help_reply(self) -> str:
        hours = self.hours.strip()
        if hours and hours[-1] not in ".!?":
            hours += "."
        reach = f"{self.name} customer service: {self.contact}."
        return " ".join(part for part in (reach, hours, "Reply STOP to opt out of texts.") if part)

    def start_reply(self) -> str:
        return START_ACK.format(shop=self.name)


def shop_texts() -> ShopTexts:
    """From the shop profile (re-read when it changes); something true when it is unreadable."""
    try:
        profile = load_shop_profile()
    except ShopProfileError as exc:
        logger.warning("shop profile unreadable; SMS HELP answered without it: %s", exc)
        return ShopTexts(name="Our shop", contact="reply here and our team will get back to you")
    contact = " or ".join(p for p in (profile.contact.email, profile.contact.phone) if p) or profile.website
    return ShopTexts(name=profile.name, contact=contact, hours=profile.contact.hours)
