"""Staff sign-in an attacker cannot turn against the real staff member, a live
socket that ends with the session, and cookies that are Secure in production.
Against the whole gateway on a real port; client addresses come from
X-Forwarded-For, which the gateway believes from loopback as it would from the
shop's proxy."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy.orm import Session, sessionmaker
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from crm.models import StaffRole, StaffUser
from tests.bot.staff_support import PASSWORD, StaffClient, create_staff, staff_email
from tests.fakes.gateway import Gateway

pytestmark = pytest.mark.asyncio

ATTACKER = {"X-Forwarded-For": "203.0.113.9"}
OFFICE = {"X-Forwarded-For": "198.51.100.7"}


@pytest_asyncio.fixture
async def gateway(start_guarded_gateway: Callable[..., Awaitable[Gateway]]) -> Gateway:
    return await start_guarded_gateway(staff_ws_recheck_seconds=0.2)


# -- item 5: an attacker cannot lock the real admin out ------------------------------------


async def test_guessing_from_one_address_does_not_refuse_the_admin_at_another(
    staff_client: Callable[..., StaffClient], db: sessionmaker[Session]
) -> None:
    admin = staff_email(db, create_staff(db, name="Robin Admin", role=StaffRole.admin))
    attacker = staff_client(headers=ATTACKER)
    statuses = [(await attacker.try_sign_in(admin, "wrong password 123")).status_code for _ in range(7)]
    assert statuses[:5] == [401] * 5 and statuses[5:] == [429, 429]
    limited = await attacker.try_sign_in(admin, PASSWORD)  # the attacker is slowed, even if right
    assert limited.status_code == 429
    # Back-off, not lock-out: the answer says how long, and so does Retry-After.
    assert int(limited.headers["retry-after"]) > 0 and "Please wait" in limited.text
    # The real admin, from the office, with the right password: in.
    assert (await staff_client(headers=OFFICE).try_sign_in(admin, PASSWORD)).status_code == 303


async def test_a_known_good_browser_gets_in_even_from_the_attackers_address(
    staff_client: Callable[..., StaffClient], db: sessionmaker[Session]
) -> None:
    admin = staff_email(db, create_staff(db, name="Robin Admin", role=StaffRole.admin))
    laptop = staff_client(headers=ATTACKER)
    await laptop.sign_in(admin)  # earlier, from the same café network
    device = laptop.http.cookies.get("staff_device")
    assert device
    await laptop.post("/staff/sign-out", json_reply=False)
    attacker = staff_client(headers=ATTACKER)
    for _ in range(12):
        await attacker.try_sign_in(admin, "wrong password 123")
    assert (await attacker.try_sign_in(admin, PASSWORD)).status_code == 429
    # The laptop still carries its device cookie: its own bucket, not spent by the guesses.
    assert (await laptop.try_sign_in(admin, PASSWORD)).status_code == 303
    # The device cookie is bound to its account: it opens no bucket for another one.
    other = staff_email(db, create_staff(db, name="Sam Carter"))
    elsewhere = staff_client(headers={"X-Forwarded-For": "192.0.2.50"})
    for _ in range(5):
        await elsewhere.try_sign_in(other, "wrong password 123")
    elsewhere.http.cookies.set("staff_device", device, domain="127.0.0.1", path="/staff/sign-in")
    assert (await elsewhere.try_sign_in(other, PASSWORD)).status_code == 429


async def test_an_address_that_signed_in_before_is_not_refused_when_it_is_busy(
    staff_client: Callable[..., StaffClient], db: sessionmaker[Session]
) -> None:
    admin = staff_email(db, create_staff(db, name="Robin Admin", role=StaffRole.admin))
    first = staff_client(headers=OFFICE)
    await first.sign_in(admin)
    # Someone on the same office network guesses many accounts: the address bucket runs dry.
    noisy = staff_client(headers=OFFICE)
    statuses = [(await noisy.try_sign_in(f"guess{i}@shop.example", "wrong 123")).status_code for i in range(11)]
    assert statuses[-1] == 429
    # A fresh browser (no device cookie) at the address the admin used before still gets in.
    assert (await staff_client(headers=OFFICE).try_sign_in(admin, PASSWORD)).status_code == 303
    # Another account, never used from here, is refused: the address limit still holds for guesses.
    other = staff_email(db, create_staff(db, name="Sam Carter"))
    assert (await staff_client(headers=OFFICE).try_sign_in(other, PASSWORD)).status_code == 429


# -- item 6: the live socket ends with the session -------------------------------------------


async def _closed_with(ws: Any, timeout: float = 5) -> int | None:
    async def drain() -> None:
        while True:
            await ws.recv()

    try:
        await asyncio.wait_for(drain(), timeout)
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None
    return None


@pytest.mark.parametrize("how", ["deactivate", "sign_out", "password"])
async def test_the_live_socket_closes_when_the_session_ends(
    how: str, staff_client: Callable[..., StaffClient], gateway: Gateway, db: sessionmaker[Session]
) -> None:
    sam = create_staff(db, name="Sam Carter")
    client = staff_client()
    await client.sign_in(staff_email(db, sam))
    ws_url = gateway.url.replace("http", "ws") + "/staff/ws"
    async with connect(ws_url, additional_headers={"Cookie": client.cookie_header()}) as ws:
        # Open and staying open while the session is good.
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(ws.recv(), 0.6)
        if how == "deactivate":
            with db() as session:
                staff = session.get(StaffUser, sam)
                assert staff is not None
                staff.active = False
                session.commit()
        elif how == "sign_out":
            assert (await client.post("/staff/sign-out", json_reply=False)).status_code == 303
        else:
            admin = staff_client()
            await admin.sign_in(staff_email(db, create_staff(db, name="Robin Admin", role=StaffRole.admin)))
            changed = await admin.post(f"/staff/admin/staff/{sam}", {"password": "a brand new password"})
            assert changed.status_code in (200, 303)
        assert await _closed_with(ws) == 4401


# -- item 7: Secure cookies in production, whatever the Host says -----------------------------


async def test_production_cookies_are_secure_even_on_plain_http_loopback(
    start_production_gateway: Callable[..., Awaitable[Gateway]],
) -> None:
    gateway = await start_production_gateway(staff_session_secret="Staff-test-secret_9Pw3Ka7Re1UnZt5Gy2Lc8Xq4Vm6")
    for host in ("127.0.0.1", "localhost"):
        async with httpx.AsyncClient(base_url=gateway.url, headers={"Host": host}) as http:
            page = await http.get("/staff/sign-in")
        assert page.status_code == 200
        cookie = page.headers["set-cookie"].lower()
        assert "; secure" in cookie, (host, cookie)


async def test_development_loopback_cookies_stay_usable_over_plain_http(gateway: Gateway) -> None:
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        page = await http.get("/staff/sign-in")
    assert "; secure" not in page.headers["set-cookie"].lower()
