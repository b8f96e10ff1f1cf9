"""crm.normalize: order numbers, e-mails and phone numbers as people type them."""

from __future__ import annotations

import pytest

from crm.normalize import normalize_email, normalize_order_number, normalize_phone


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("#1043", "1043"),
        ("order 1043", "1043"),
        ("Order #1043", "1043"),
        ("purchase no. 00001043", "1043"),
        (" 1043 ", "1043"),
        ("order number: 1043", "1043"),
        ("my order 1043?", "1043"),
        ("No. 1043", "1043"),
        ("jo-1043", "JO-1043"),
    ],
)
def test_order_numbers_are_normalised(raw: str, expected: str) -> None:
    assert normalize_order_number(raw) == expected


@pytest.mark.parametrize(
    "raw", ["", "   ", "hello", "order", "0000", "#", "1043 1044", "1,043", "12345678901234", "hi5", "1043x", None]
)
def test_nonsense_is_not_an_order_number(raw: str | None) -> None:
    assert normalize_order_number(raw) is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Amelia.Hughes@Example.com", "amelia.hughes@example.com"),
        ("  a@b.co  ", "a@b.co"),
        ("mailto:X@y.org", "x@y.org"),
        ("first+tag@sub.example.co.uk", "first+tag@sub.example.co.uk"),
    ],
)
def test_emails_are_lower_cased_and_trimmed(raw: str, expected: str) -> None:
    assert normalize_email(raw) == expected


@pytest.mark.parametrize(
    "raw",
    ["", "a@b", "a b@c.com", "a@@b.com", "a@b..com", "x@-a.com", "a.@b.com", "@b.com", "plainaddress", "a@b.c", "x" * 250 + "@b.com", None],
)
def test_malformed_emails_are_rejected(raw: str | None) -> None:
    assert normalize_email(raw) is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("07700 900101", "+447700900101"),
        ("07700-900-101", "+447700900101"),
        ("+44 7700 900101", "+447700900101"),
        ("+44 (0)7700 900101", "+447700900101"),
        ("0044 7700 900101", "+447700900101"),
        ("447700900101", "+447700900101"),  # spreadsheets drop the "+"
        ("(020) 7946 0321", "+442079460321"),
        ("tel:+447700900101", "+447700900101"),
        ("+49 151 23456789", "+4915123456789"),
        ("00 353 85 123 4567", "+353851234567"),
    ],
)
def test_phone_numbers_become_e164(raw: str, expected: str) -> None:
    assert normalize_phone(raw) == expected


def test_national_numbers_use_the_default_region() -> None:
    assert normalize_phone("0151 23456789", default_region="DE") == "+4915123456789"
    assert normalize_phone("612 345 678", default_region="ES") == "+34612345678"


@pytest.mark.parametrize(
    "raw", ["", "abc", "7700900101", "+4477009001011", "+44 770090", "0", "+0123456789", "07700 9001O1", None]
)
def test_unreadable_phone_numbers_are_rejected(raw: str | None) -> None:
    assert normalize_phone(raw) is None


def test_unknown_default_region_rejects_national_numbers() -> None:
    assert normalize_phone("07700 900101", default_region="ZZ") is None
    assert normalize_phone("+447700900101", default_region="ZZ") == "+447700900101"
