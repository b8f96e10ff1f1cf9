"""The shop's JSON API (/api/v1) and its keys, through the whole gateway."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from crm.models import (
    ApiKey,
    Customer,
    Order,
    OrderStatus,
    ShopEvent,
    ShopRequest,
    ShopRequestKind,
    ShopRequestStatus,
)
from crm.services.api_keys import create_api_key, revoke_api_key
from crm.services.customers import erase_customer
from crm.services.shop_requests import create_request
from tests.fakes.gateway import Gateway

NEW_ORDER = {
    "updated_at": "2026-11-02T09:00:00+00:00",
    "status": "paid",
    "customer": {"id": "C900", "email": "Noor@Example.com", "first_name": "Noor", "last_name": "Haddad"},
    "placed_at": "2026-11-02T08:55:00+00:00",
    "total": "34.50",
    "currency": "gbp",
    "items": [{"name": "Linen apron", "quantity": 1, "price": "34.50"}],
    "shipping_address": "4 Quay Street, Bristol BS1 4DJ",
}


@pytest.fixture
def api_key(db: sessionmaker[Session]) -> str:
    with db() as session:
        _, key = create_api_key(session, name="our own shop system", actor="test")
        session.commit()
    return key


@pytest_asyncio.fixture
async def api(gateway: Gateway, api_key: str) -> Callable[..., Any]:
    async def call(method: str, path: str, json: Any = None, key: str | None = api_key) -> httpx.Response:
        headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
        async with httpx.AsyncClient() as http:
            return await http.request(method, gateway.url + path, json=json, headers=headers)

    return call


def test_only_a_hash_of_the_key_is_stored(db: sessionmaker[Session], api_key: str) -> None:
    with db() as session:
        row = session.scalars(select(ApiKey)).one()
    assert api_key not in (row.key_hash, row.prefix) and len(row.key_hash) == 64
    assert api_key.startswith(row.prefix)


@pytest.mark.asyncio
async def test_put_order_creates_then_updates_in_order(api: Callable[..., Any], db: sessionmaker[Session]) -> None:
    created = await api("PUT", "/api/v1/orders/%231201", NEW_ORDER)
    assert (created.status_code, created.json()["outcome"]) == (200, "applied")
    shipped = {"updated_at": "2026-11-03T09:00:00Z", "status": "shipped", "carrier": "Royal Mail",
               "tracking_number": "RM123456785GB"}
    assert (await api("PUT", "/api/v1/orders/1201", shipped)).json()["outcome"] == "applied"
    assert (await api("PUT", "/api/v1/orders/1201", shipped)).json()["outcome"] == "duplicate"
    older = {"updated_at": "2026-11-02T10:00:00Z", "status": "paid"}
    assert (await api("PUT", "/api/v1/orders/1201", older)).json()["outcome"] == "stale"
    with db() as session:
        order = session.scalars(select(Order).where(Order.number == "1201")).one()
        assert (order.status, order.tracking_number, order.currency) == (OrderStatus.shipped, "RM123456785GB", "GBP")
        assert order.customer.email == "noor@example.com"


@pytest.mark.asyncio
async def test_put_customer(api: Callable[..., Any], db: sessionmaker[Session]) -> None:
    body = {"updated_at": "2026-11-02T09:00:00Z", "email": "sam@example.com", "first_name": "Sam"}
    assert (await api("PUT", "/api/v1/customers/C777", body)).json()["outcome"] == "applied"
    with db() as session:
        assert session.scalars(select(Customer.first_name).where(Customer.external_id == "C777")).one() == "Sam"


@pytest.mark.asyncio
async def test_refusals_say_why(api: Callable[..., Any], db: sessionmaker[Session]) -> None:
    no_key = await api("PUT", "/api/v1/orders/1201", NEW_ORDER, key=None)
    assert no_key.status_code == 401 and "Bearer" in no_key.json()["detail"]
    assert no_key.headers["WWW-Authenticate"] == "Bearer"
    wrong = await api("PUT", "/api/v1/orders/1201", NEW_ORDER, key="jo_not-a-real-key")
    assert wrong.status_code == 401
    no_clock = await api("PUT", "/api/v1/orders/1201", {k: v for k, v in NEW_ORDER.items() if k != "updated_at"})
    assert no_clock.status_code == 422 and "updated_at" in no_clock.text
    typo = await api("PUT", "/api/v1/orders/1201", NEW_ORDER | {"tracking": "x"})
    assert typo.status_code == 422 and "tracking" in typo.text
    bad_number = await api("PUT", "/api/v1/orders/abc!", NEW_ORDER)
    assert bad_number.status_code == 422 and "not an order number" in bad_number.json()["detail"]
    half = await api("PUT", "/api/v1/orders/1300", {"updated_at": "2026-11-02T09:00:00Z", "status": "paid"})
    assert half.status_code == 422 and "needs a customer" in half.json()["detail"]
    with db() as session:
        assert session.scalars(select(Order)).all() == []
        # Refused after its event was claimed: the claim went with it, so a fixed resend applies.
        assert session.scalars(select(ShopEvent)).all() == []
    fixed = {"updated_at": "2026-11-02T09:00:00Z", "status": "paid", "customer": {"id": "C901"},
             "placed_at": "2026-11-02T08:00:00Z", "total": "5.00"}
    assert (await api("PUT", "/api/v1/orders/1300", fixed)).json()["outcome"] == "applied"


@pytest.mark.asyncio
async def test_a_revoked_key_stops_working(api: Callable[..., Any], db: sessionmaker[Session]) -> None:
    with db() as session:
        revoke_api_key(session, key_id=session.scalars(select(ApiKey.id)).one(), actor="test")
        session.commit()
    assert (await api("PUT", "/api/v1/customers/C1", {"updated_at": "2026-11-02T09:00:00Z"})).status_code == 401


@pytest.mark.asyncio
async def test_an_erased_customer_is_not_taken_back(api: Callable[..., Any], db: sessionmaker[Session]) -> None:
    with db() as session:
        person = Customer(external_id="C900", first_name="Noor", email="noor@example.com")
        session.add(person)
        session.flush()
        erase_customer(session, customer=person, actor="customer:C900")
        session.commit()
    response = await api("PUT", "/api/v1/orders/1201", NEW_ORDER)
    assert response.status_code == 409 and "erased" in response.json()["detail"]
    with db() as session:
        assert session.scalars(select(Customer)).all() == []


@pytest.mark.asyncio
async def test_settling_a_request(api: Callable[..., Any], db: sessionmaker[Session]) -> None:
    assert (await api("PUT", "/api/v1/orders/1201", NEW_ORDER)).status_code == 200
    with db() as session:
        order = session.scalars(select(Order).where(Order.number == "1201")).one()
        reference = create_request(session, order=order, kind=ShopRequestKind.cancel, actor="customer:C900").reference
        session.commit()
    no_reason = await api("POST", f"/api/v1/requests/{reference}", {"status": "refused"})
    assert no_reason.status_code == 422 and "reason" in no_reason.json()["detail"]
    accepted = await api("POST", f"/api/v1/requests/{reference}", {"status": "accepted"})
    assert accepted.json() == {"reference": reference, "status": "accepted"}
    again = await api("POST", f"/api/v1/requests/{reference}", {"status": "refused", "reason": "too late"})
    assert again.status_code == 409
    assert (await api("POST", "/api/v1/requests/Q-NOPE", {"status": "accepted"})).status_code == 404
    with db() as session:
        request = session.scalars(select(ShopRequest)).one()
        assert request.status == ShopRequestStatus.accepted and request.order.status == OrderStatus.cancelled


@pytest.mark.asyncio
async def test_two_first_updates_of_one_order_at_once_both_land(
    api: Callable[..., Any], db: sessionmaker[Session]
) -> None:
    import asyncio

    later = NEW_ORDER | {"updated_at": "2026-11-02T09:30:00+00:00", "status": "shipped", "tracking_number": "T-1"}
    first, second = await asyncio.gather(
        api("PUT", "/api/v1/orders/1401", NEW_ORDER), api("PUT", "/api/v1/orders/1401", later)
    )
    assert {first.status_code, second.status_code} == {200}
    assert {first.json()["outcome"], second.json()["outcome"]} <= {"applied", "stale"}
    with db() as session:
        order = session.scalars(select(Order).where(Order.number == "1401")).one()
        assert (order.status, order.tracking_number) == (OrderStatus.shipped, "T-1")
