"""bot.shop.signatures against vectors computed outside this code, with
`printf '%s' BODY | openssl dgst -sha256 -hmac SECRET -binary | base64`."""

from __future__ import annotations

from bot.shop.signatures import sign, valid
from tests.shop_fixtures import fixture_bytes

VECTORS = [
    ("shpss_test_secret", b'{"id":1,"name":"#1001"}', "V0A4JbchZkpgnLRKUtMveg/jm4yEjIUAfdVth08uzWg="),
    ("wc-secret-123", b'{"id":727,"status":"processing"}', "3uATCl21/ERCq2bOkbEN/S0MZwZUmB0jwPUz4sKVryE="),
]
# The whole documented orders/create body, byte for byte as stored.
ORDER_VECTOR = "Ydg0mLSBHU3N36OKBKBvCJS/StQZ9mlhK0N/Bsohb1w="


def test_signatures_match_openssl() -> None:
    for secret, body, expected in VECTORS:
        assert sign(secret, body) == expected
        assert valid(secret, body, expected)
    assert valid("shpss_test_secret", fixture_bytes("shopify_orders_create"), ORDER_VECTOR)


def test_a_changed_body_a_wrong_secret_or_no_header_is_invalid() -> None:
    secret, body, expected = VECTORS[0]
    assert not valid(secret, body + b" ", expected)
    assert not valid("another", body, expected)
    assert not valid(secret, body, None)
    assert not valid(secret, body, "")
    # Fail closed: an unset secret never validates, even against its own empty-key HMAC.
    assert not valid("", body, sign("", body))
