"""Fixtures of the identity action tests: two customers with orders in the CRM."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session

from crm.models import OrderStatus
from tests.factories import make_customer, make_order


@pytest.fixture
def amelia(session: Session) -> Any:
    customer = make_customer(
        session, external_id="CA1", first_name="Amelia", email="amelia.hughes@example.com"
    )
    make_order(session, customer=customer, number="71043", status=OrderStatus.shipped)
    return customer


@pytest.fixture
def oliver(session: Session) -> Any:
    customer = make_customer(
        session, external_id="CO2", first_name="Oliver", email="oliver.bennett@example.com"
    )
    make_order(session, customer=customer, number="71044", status=OrderStatus.paid)
    return customer
