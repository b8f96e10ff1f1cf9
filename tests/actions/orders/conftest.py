"""Fixtures of the order action tests: a verified customer and a stranger in the CRM."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session

from tests.factories import make_customer


@pytest.fixture
def customer(session: Session) -> Any:
    return make_customer(session, external_id="CV1", first_name="Vera", email="vera@example.com")


@pytest.fixture
def stranger(session: Session) -> Any:
    return make_customer(session, external_id="CS9", first_name="Stan", email="stan@example.com")
