"""Turn what people type into the canonical forms the CRM stores.

Each function returns None for input it cannot make sense of, so callers can
answer "I couldn't read that" instead of guessing.
"""

from __future__ import annotations

import re

_ORDER_WORDS = re.compile(
    r"^(?:(?:my|the)\s+)?(?:order|purchase|invoice|ref(?:erence)?)?\s*"
    r"(?:(?:no|nr|num|number)\b\.?)?\s*[#:]?\s*",
    re.IGNORECASE,
)
# Digits, optionally after a short letter prefix the shop uses ("JO-1043").
_ORDER_NUMBER = re.compile(r"^(?:(?P<prefix>[A-Z]{1,4})-)?(?P<digits>\d{1,12})$")


def normalize_order_number(raw: str | None) -> str | None:
    """"#1043", "order 1043", "purchase no. 00001043", " 1043 " -> "1043"."""
    if not raw:
        return None
    text = raw.strip().strip(".,;!?")
    text = _ORDER_WORDS.sub("", text, count=1).strip().upper()
    match = _ORDER_NUMBER.match(text)
    if match is None:
        return None
    digits = match["digits"].lstrip("0")
    if not digits:
        return None
    prefix = match["prefix"]
    return f"{prefix}-{digits}" if prefix else digits


# Deliberately simple: one @, a dotted domain with sane labels, no spaces.
_EMAIL = re.compile(
    r"^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$"
)


def normalize_email(raw: str | None) -> str | None:
    """Lower-cased address, or None if it is not a plausible e-mail address."""
    if not raw:
        return None
    email = raw.strip().lower()
    if email.startswith("mailto:"):
        email = email[len("mailto:") :]
    if len(email) > 254 or not _EMAIL.match(email):
        return None
    return email


# Calling code and whether national numbers start with a trunk "0".
_REGIONS: dict[str, tuple[str, bool]] = {
    "GB": ("44", True),
    "IE": ("353", True),
    "FR": ("33", True),
    "DE": ("49", True),
    "NL": ("31", True),
    "BE": ("32", True),
    "AT": ("43", True),
    "CH": ("41", True),
    "SE": ("46", True),
    "FI": ("358", True),
    "PL": ("48", False),
    "ES": ("34", False),
    "IT": ("39", False),
    "PT": ("351", False),
    "DK": ("45", False),
    "NO": ("47", False),
    "US": ("1", False),
    "CA": ("1", False),
}
_PHONE_DECORATION = re.compile(r"[\s().\-/]")
_E164 = re.compile(r"^\+[1-9]\d{7,14}$")


def normalize_phone(raw: str | None, default_region: str = "GB") -> str | None:
    """E.164 ("+447700900101") from international or national notation.

    Not a full numbering-plan check (that needs libphonenumber's data): it
    accepts what is shaped like a phone number and rejects the rest.
    """
    if not raw:
        return None
    text = raw.strip()
    if text.lower().startswith("tel:"):
        text = text[4:]
    # "+44 (0)7700 900101": the "(0)" is a trunk prefix that must go.
    text = re.sub(r"^(\+\d{1,3})\s*\(0\)", r"\1", text)
    text = _PHONE_DECORATION.sub("", text)
    if text.startswith("00"):
        text = "+" + text[2:]
    if text.startswith("+"):
        candidate = text
    elif text.isdigit():
        region = _REGIONS.get(default_region.upper())
        if region is None:
            return None
        code, trunk_zero = region
        if not trunk_zero:
            candidate = f"+{code}{text}"
        elif text.startswith("0"):
            candidate = f"+{code}{text[1:]}"
        elif text.startswith(code):
            # Spreadsheets drop the "+" of "+447700900101"; national numbers in
            # these regions always start with 0, so this cannot be one.
            candidate = f"+{text}"
        else:
            return None
    else:
        return None
    if not _E164.match(candidate):
        return None
    # National numbers in GB are 10 digits after the trunk 0 (9 for a few areas).
    if candidate.startswith("+44") and not 9 <= len(candidate) - 3 <= 10:
        return None
    return candidate
