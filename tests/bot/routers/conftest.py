"""Fixtures of the router tests: the fake Twilio REST API the SMS tests send through."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.twilio import FakeTwilioApi


@pytest.fixture
def twilio() -> Iterator[FakeTwilioApi]:
    with FakeTwilioApi().serve() as fake:
        yield fake
