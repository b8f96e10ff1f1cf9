"""Who may use the staff console: sign-in, sessions, CSRF, roles, and that
customers can never reach it. Against the whole gateway on a real port."""

from __future__ import annotations

import html
import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from crm.models import AuditEntry, Conversation, ConversationState, StaffRole, StaffUser
from tests.bot.staff_support import PASSWORD, StaffClient, create_staff, staff_email
from tests.fakes.gateway import Gateway

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def gateway(start_guarded_gateway: Callable[..., Awaitable[Gateway]]) -> Gateway:
    return await start_guarded_gateway()


def audit_actions(db: sessionmaker[Session]) -> list[tuple[str, str, dict[str, Any]]]:
    with db() as session:
        return [
            (e.actor, e.action, e.detail) for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))
        ]


async def queued_conversation(db: sessionmaker[Session]) -> str:
    with db() as session:
        session.add(Conversation(id="c-queued", channel="web", address="x", state=ConversationState.queued))
        session.commit()
    return "c-queued"


# -- signing in ---------------------------------------------------------------------------


async def test_sign_in_gives_an_httponly_samesite_strict_cookie_scoped_to_the_console(
    staff_client: Callable[..., StaffClient], db: sessionmaker[Session]
) -> None:
    sam = create_staff(db, name="Sam Carter")
    client = staff_client()
    response = await client.try_sign_in(staff_email(db, sam), PASSWORD)
    assert response.status_code == 303 and response.headers["location"] == "/staff"
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("staff_session="))
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "path", "max-age", "samesite"} <= attributes
    assert "samesite=strict" in cookie.lower() and "path=/staff" in cookie.lower()
    assert "secure" not in attributes  # plain HTTP on loopback: a shop trying it out
    page = await client.get("/staff")
    assert page.status_code == 200 and "Signed in as <strong>Sam Carter</strong>" in page.text
    assert page.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert (f"staff:{sam}", "staff.sign_in", {}) in audit_actions(db)


async def test_cookies_are_secure_anywhere_but_plain_loopback(gateway: Gateway) -> None:
    async with httpx.AsyncClient(base_url=gateway.url, headers={"Host": "shop.example"}) as http:
        page = await http.get("/staff/sign-in")
    cookie = page.headers["set-cookie"].lower()
    assert "secure" in cookie and "samesite=strict" in cookie and "httponly" in cookie


async def test_a_wrong_password_or_unknown_account_gets_the_same_answer_and_is_audited_without_the_address(
    staff_client: Callable[..., StaffClient], db: sessionmaker[Session]
) -> None:
    sam = create_staff(db, name="Sam Carter")
    client = staff_client()
    wrong = await client.try_sign_in(staff_email(db, sam), "not the password at all")
    unknown = await client.try_sign_in("nobody@shop.example", PASSWORD)
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert "don't match an active staff account" in html.unescape(response.text)
        assert "staff_session=" not in response.headers.get("set-cookie", "")
    entries = [e for e in audit_actions(db) if e[1] == "staff.sign_in_failed"]
    assert [e[2]["reason"] for e in entries] == ["bad_password", "unknown_account"]
    assert "nobody@shop.example" not in json.dumps(audit_actions(db))
    assert (await client.get("/staff")).status_code == 303


async def test_a_deactivated_account_cannot_sign_in_and_its_sessions_end(
    staff_client: Callable[..., StaffClient], db: sessionmaker[Session]
) -> None:
    sam = create_staff(db, name="Sam Carter")
    client = staff_client()
    await client.sign_in(staff_email(db, sam))
    with db() as session:
        staff = session.get(StaffUser, sam)
        assert staff is not None
        staff.active = False
        session.commit()
    page = await client.get("/staff")
    assert page.status_code == 303 and page.headers["location"].startswith("/staff/sign-in")
    assert (await staff_client().try_sign_in(staff_email(db, sam), PASSWORD)).status_code == 401


async def test_sign_in_is_rate_limited_per_account(
    staff_client: Callable[..., StaffClient], db: sessionmaker[Session]
) -> None:
    sam, alex = create_staff(db, name="Sam Carter"), create_staff(db, name="Alex Reid")
    client = staff_client()
    statuses = [
        (await client.try_sign_in(staff_email(db, sam), "wrong password 123")).status_code for _ in range(5)
    ]
    assert statuses == [401] * 5
    limited = await client.try_sign_in(staff_email(db, sam), PASSWORD)  # even the right password waits
    assert limited.status_code == 429 and "Too many sign-in attempts" in limited.text
    assert "staff_session=" not in limited.headers.get("set-cookie", "")
    # Another account is not locked out by someone guessing Sam's password.
    assert (await client.try_sign_in(staff_email(db, alex), PASSWORD)).status_code == 303


async def test_sign_in_is_rate_limited_per_address(
    staff_client: Callable[..., StaffClient], db: sessionmaker[Session]
) -> None:
    client = staff_client()
    statuses = [
        (await client.try_sign_in(f"guess{i}@shop.example", "wrong password 123")).status_code
        for i in range(12)
    ]
    assert statuses[:10] == [401] * 10 and statuses[10:] == [429, 429]
    assert [e[2] for e in audit_actions(db) if e[1] == "staff.sign_in_limited"] == [{"scope": "ip"}] * 2


async def test_the_sign_in_form_needs_its_csrf_token(gateway: Gateway, db: sessionmaker[Session]) -> None:
    sam = create_staff(db, name="Sam Carter")
    form = {"email": staff_email(db, sam), "password": PASSWORD}
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        missing = await http.post("/staff/sign-in", data=form)
        await http.get("/staff/sign-in")  # sets the cookie half
        wrong = await http.post("/staff/sign-in", data={**form, "csrf": "guessed"})
    assert missing.status_code == 403 and wrong.status_code == 403
    assert "staff_session=" not in missing.headers.get("set-cookie", "") + wrong.headers.get("set-cookie", "")


async def test_sign_in_only_redirects_inside_the_console(
    staff_client: Callable[..., StaffClient], db: sessionmaker[Session]
) -> None:
    sam = create_staff(db, name="Sam Carter")
    for target, expected in (
        ("https://evil.example/", "/staff"),
        ("//evil.example", "/staff"),
        ("/staff/admin/audit", "/staff/admin/audit"),
    ):
        client = staff_client()
        token = await client.sign_in_form()
        response = await client.http.post(
            "/staff/sign-in",
            data={"csrf": token, "email": staff_email(db, sam), "password": PASSWORD, "next": target},
        )
        assert (response.status_code, response.headers["location"]) == (303, expected)


# -- CSRF on every POST ----------------------------------------------------------------------


async def test_posts_without_a_valid_csrf_token_are_refused_and_change_nothing(
    staff_client: Callable[..., StaffClient], db: sessionmaker[Session]
) -> None:
    conversation = await queued_conversation(db)
    sam, alex = create_staff(db, name="Sam Carter"), create_staff(db, name="Alex Reid")
    client, other = staff_client(), staff_client()
    await client.sign_in(staff_email(db, sam))
    await other.sign_in(staff_email(db, alex))
    path = f"/staff/conversations/{conversation}/assign"
    missing = await client.post(path, csrf=None)
    wrong = await client.post(path, csrf="0" * 64)
    someone_elses = await client.post(path, csrf=other.csrf)
    assert [r.status_code for r in (missing, wrong, someone_elses)] == [403, 403, 403]
    assert "expired" in missing.json()["error"]
    with db() as session:
        assert session.get(Conversation, conversation).state == ConversationState.queued  # type: ignore[union-attr]
    # The same request with the page's token works.
    assert (await client.post(path)).status_code == 200
    # A plain form post carries the token as a field instead of a header.
    signed_out = await client.http.post("/staff/sign-out", data={"csrf": client.csrf or ""})
    assert signed_out.status_code == 303


async def test_without_a_session_posts_are_401_and_pages_send_you_to_sign_in(
    gateway: Gateway, db: sessionmaker[Session]
) -> None:
    conversation = await queued_conversation(db)
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        for path in (
            "/staff",
            f"/staff/conversations/{conversation}",
            "/staff/admin/staff",
            "/staff/admin/audit",
        ):
            page = await http.get(path)
            assert page.status_code == 303 and page.headers["location"].startswith("/staff/sign-in?next=")
        post = await http.post(
            f"/staff/conversations/{conversation}/assign", headers={"Accept": "application/json"}
        )
        assert post.status_code == 401
        assert (await http.get("/staff/queue")).status_code == 401
        assert (await http.get(f"/staff/conversations/{conversation}/transcript")).status_code == 401
        forged = await http.get(
            "/staff", headers={"Cookie": "staff_session=eyJ1aWQiOjF9.bm90LWEtc2lnbmF0dXJl"}
        )
        assert forged.status_code == 303


async def test_signing_out_ends_the_session_even_if_the_cookie_is_replayed(
    staff_client: Callable[..., StaffClient], db: sessionmaker[Session]
) -> None:
    sam = create_staff(db, name="Sam Carter")
    client = staff_client()
    await client.sign_in(staff_email(db, sam))
    cookie = client.http.cookies.get("staff_session")
    assert (await client.post("/staff/sign-out", json_reply=False)).status_code == 303
    replay = staff_client()
    replay.http.cookies.set("staff_session", cookie or "", domain="127.0.0.1", path="/staff")
    assert (await replay.get("/staff")).status_code == 303
    assert (f"staff:{sam}", "staff.sign_out", {}) in audit_actions(db)


async def test_a_new_password_ends_the_sessions_made_with_the_old_one(
    staff_client: Callable[..., StaffClient], db: sessionmaker[Session]
) -> None:
    sam = create_staff(db, name="Sam Carter")
    boss = create_staff(db, name="Robin Admin", role=StaffRole.admin)
    client, admin = staff_client(), staff_client()
    await client.sign_in(staff_email(db, sam))
    await admin.sign_in(staff_email(db, boss))
    reset = await admin.post(
        f"/staff/admin/staff/{sam}", {"password": "a brand new password"}, json_reply=False
    )
    assert reset.status_code == 303
    assert (await client.get("/staff")).status_code == 303
    await staff_client().sign_in(staff_email(db, sam), "a brand new password")


# -- roles, and customers -----------------------------------------------------------------


async def test_agents_cannot_reach_admin_pages_and_admins_can(
    staff_client: Callable[..., StaffClient], db: sessionmaker[Session]
) -> None:
    agent, admin = staff_client(), staff_client()
    await agent.sign_in(staff_email(db, create_staff(db, name="Sam Carter")))
    await admin.sign_in(staff_email(db, create_staff(db, name="Robin Admin", role=StaffRole.admin)))
    for path in ("/staff/admin/staff", "/staff/admin/audit"):
        assert (await agent.get(path)).status_code == 403
        assert (await admin.get(path)).status_code == 200
    created = await agent.post(
        "/staff/admin/staff",
        {"email": "new@shop.example", "name": "New", "role": "admin", "password": "x" * 20},
    )
    assert created.status_code == 403
    with db() as session:
        assert session.scalars(select(StaffUser).where(StaffUser.email == "new@shop.example")).first() is None
    queue = await agent.get("/staff")
    assert "Staff accounts" not in queue.text and "Audit log" not in queue.text


async def test_a_customer_with_a_widget_session_gets_nothing_from_the_console(
    gateway: Gateway, db: sessionmaker[Session]
) -> None:
    async with gateway.connect() as widget:
        session_token = (await widget.recv())["session"]
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        for cookie in (f"session={session_token}", f"staff_session={session_token}", "demo_customer=C001"):
            page = await http.get("/staff", headers={"Cookie": cookie})
            assert page.status_code == 303 and page.headers["location"].startswith("/staff/sign-in")
    ws_url = gateway.url.replace("http", "ws") + "/staff/ws"
    with pytest.raises(InvalidStatus) as refused:
        async with connect(ws_url, additional_headers={"Cookie": f"staff_session={session_token}"}):
            pass
    assert refused.value.response.status_code == 403


async def test_the_live_socket_refuses_other_sites(
    staff_client: Callable[..., StaffClient], gateway: Gateway, db: sessionmaker[Session]
) -> None:
    client = staff_client()
    await client.sign_in(staff_email(db, create_staff(db, name="Sam Carter")))
    ws_url = gateway.url.replace("http", "ws") + "/staff/ws"
    with pytest.raises(InvalidStatus):
        async with connect(
            ws_url, additional_headers={"Cookie": client.cookie_header(), "Origin": "https://evil.example"}
        ):
            pass
    async with connect(
        ws_url, additional_headers={"Cookie": client.cookie_header(), "Origin": gateway.url}
    ) as ws:
        assert ws.protocol.state.name == "OPEN"


async def test_the_console_is_closed_in_production_without_a_session_secret(
    start_production_gateway: Callable[..., Awaitable[Gateway]],
) -> None:
    gateway = await start_production_gateway()
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        page = await http.get("/staff/sign-in")
        post = await http.post("/staff/sign-in", data={"email": "a@b.c", "password": "x"})
    assert page.status_code == 503 and "STAFF_SESSION_SECRET" in page.text
    assert post.status_code == 503
