"""The demo shop page: who it lets you be, what it signs, and that it is gone outside demo mode."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.app import create_app
from bot.identity import IdentityPolicy
from bot.routers.demo import COOKIE
from crm.models import Conversation, Customer
from tests.fakes.gateway import IDENTITY_SECRET, gateway_settings

DEMO_CUSTOMERS = [
    ("C001", "Ada", "Lovelace"),
    ("C002", "Grace", "Hopper"),
    ("C003", "Mallory", "<script>alert(1)</script>"),
]


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict[str, str | None]] = []
        self.options: list[str] = []
        self.forms: list[str | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "script":
            self.scripts.append(found)
        elif tag == "option":
            self.options.append(found.get("value") or "")
        elif tag == "form":
            self.forms.append(found.get("action"))


def parse(page: str) -> _Tags:
    tags = _Tags()
    tags.feed(page)
    return tags


def widget_tag(page: str) -> dict[str, str | None]:
    scripts = parse(page).scripts
    assert len(scripts) == 1, f"expected exactly one script tag, found {scripts}"
    assert scripts[0]["src"] == "/static/widget.js"
    return scripts[0]


@pytest.fixture
def demo_customers(db: sessionmaker[Session]) -> list[tuple[str, str, str]]:
    with db() as session:
        for external_id, first, last in DEMO_CUSTOMERS:
            session.add(
                Customer(
                    external_id=external_id,
                    first_name=first,
                    last_name=last,
                    email=f"{external_id.lower()}@example.com",
                    phone=f"+4477009001{external_id[-2:]}",
                    is_demo=True,
                )
            )
        session.commit()
    return DEMO_CUSTOMERS


def client_for(db_url: str, **overrides: Any) -> TestClient:
    return TestClient(create_app(gateway_settings(db_url, **overrides)), follow_redirects=False)


@pytest.fixture
def demo(gateway_db_url: str, demo_customers: list[tuple[str, str, str]]) -> Iterator[TestClient]:
    with client_for(gateway_db_url, demo_mode=True) as client:
        yield client


def sign_in(client: TestClient, customer_id: str) -> None:
    response = client.post("/demo/sign-in", data={"customer_id": customer_id})
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/"


def test_shop_front_lists_every_demo_customer_and_embeds_an_anonymous_widget(demo: TestClient) -> None:
    response = demo.get("/")

    assert response.status_code == 200
    page = response.text
    assert "Juniper &amp; Oak" in page
    assert parse(page).options == ["C001", "C002", "C003"]
    assert "Ada Lovelace (C001)" in page
    assert "Grace Hopper (C002)" in page
    assert "/demo/sign-in" in parse(page).forms
    tag = widget_tag(page)
    assert "data-customer-id" not in tag and "data-signature" not in tag
    assert tag["data-title"] == "Juniper & Oak"
    assert "defer" in tag


def test_customer_data_from_the_crm_is_escaped(demo: TestClient) -> None:
    page = demo.get("/").text

    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert len(parse(page).scripts) == 1


def test_signing_in_embeds_a_valid_signature_for_that_customer(demo: TestClient) -> None:
    sign_in(demo, "C001")
    page = demo.get("/").text

    tag = widget_tag(page)
    assert tag["data-customer-id"] == "C001"
    # The documented signature input: "<customer_id>:<expires>", expiring within the hour.
    expires = int(tag["data-expires"] or 0)
    assert time.time() < expires <= time.time() + 3600
    expected = hmac.new(IDENTITY_SECRET.encode(), f"C001:{expires}".encode(), hashlib.sha256).hexdigest()
    assert tag["data-signature"] == expected
    assert IdentityPolicy(secret=IDENTITY_SECRET).check("C001", str(expires), tag["data-signature"]) == "ok"
    assert "Signed in as" in page and "Ada Lovelace (C001)" in page
    assert "/demo/sign-out" in parse(page).forms
    assert "/demo/sign-in" not in parse(page).forms


def test_the_page_is_never_cached_and_allows_no_inline_script(demo: TestClient) -> None:
    sign_in(demo, "C002")
    response = demo.get("/")

    assert response.headers["cache-control"] == "no-store"
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy


def test_the_signature_from_the_page_verifies_the_widget_connection(
    demo: TestClient, db: sessionmaker[Session]
) -> None:
    sign_in(demo, "C002")
    tag = widget_tag(demo.get("/").text)

    url = (
        f"/ws/chat?customer_id={tag['data-customer-id']}&expires={tag['data-expires']}"
        f"&signature={tag['data-signature']}"
    )
    with demo.websocket_connect(url) as ws:
        session_frame = ws.receive_json()
        assert session_frame["type"] == "session"
        assert ws.receive_json()["type"] == "history"

    with db() as session:
        conversation = session.scalars(select(Conversation)).one()
        customer = session.scalars(select(Customer).where(Customer.external_id == "C002")).one()
        assert conversation.customer_id == customer.id


def test_switching_customer_changes_the_signed_identity(demo: TestClient) -> None:
    sign_in(demo, "C001")
    first = widget_tag(demo.get("/").text)
    sign_in(demo, "C002")
    second = widget_tag(demo.get("/").text)

    assert (first["data-customer-id"], second["data-customer-id"]) == ("C001", "C002")
    assert first["data-signature"] != second["data-signature"]


def test_signing_out_embeds_an_anonymous_widget_again(demo: TestClient) -> None:
    sign_in(demo, "C001")
    response = demo.post("/demo/sign-out")

    assert response.status_code == 303
    assert COOKIE not in demo.cookies
    tag = widget_tag(demo.get("/").text)
    assert "data-customer-id" not in tag and "data-signature" not in tag


def test_unknown_customer_is_refused_clearly_and_signs_nobody_in(demo: TestClient) -> None:
    response = demo.post("/demo/sign-in", data={"customer_id": "C999"})

    assert response.status_code == 400
    assert "no demo customer" in response.text.lower()
    assert COOKIE not in demo.cookies
    assert "data-customer-id" not in widget_tag(demo.get("/").text)


def test_a_forged_cookie_signs_nobody_in(demo: TestClient) -> None:
    demo.cookies.set(COOKIE, "C999")
    page = demo.get("/").text

    assert "data-customer-id" not in widget_tag(page)
    assert "Signed in as" not in page


def test_oversized_sign_in_form_is_refused(demo: TestClient) -> None:
    response = demo.post("/demo/sign-in", data={"customer_id": "C001", "padding": "x" * 5000})

    assert response.status_code == 413
    assert COOKIE not in demo.cookies


def test_without_a_widget_secret_nobody_can_be_signed(
    gateway_db_url: str, demo_customers: list[tuple[str, str, str]]
) -> None:
    with client_for(gateway_db_url, demo_mode=True, widget_identity_secret="") as client:
        client.cookies.set(COOKIE, "C001")
        page = client.get("/").text

    assert "WIDGET_IDENTITY_SECRET" in page
    assert "/demo/sign-in" not in parse(page).forms
    tag = widget_tag(page)
    assert "data-signature" not in tag and "data-customer-id" not in tag


def test_demo_mode_off_exposes_no_customers_and_no_sign_in(
    gateway_db_url: str, demo_customers: list[tuple[str, str, str]]
) -> None:
    with client_for(gateway_db_url, demo_mode=False) as client:
        client.cookies.set(COOKIE, "C001")
        home = client.get("/")
        sign_in_attempt = client.post("/demo/sign-in", data={"customer_id": "C001"})
        widget = client.get("/static/widget.js")

    assert home.status_code == 404
    for external_id, first, last in DEMO_CUSTOMERS:
        assert external_id not in home.text and first not in home.text
    assert "sign in" not in home.text.lower()
    assert sign_in_attempt.status_code == 404
    assert "set-cookie" not in sign_in_attempt.headers
    # The widget itself is served either way: shops embed it without the demo.
    assert widget.status_code == 200
    assert "/ws/chat" in widget.text


def test_demo_routes_refuse_even_if_included_by_mistake(
    gateway_db_url: str, demo_customers: list[tuple[str, str, str]]
) -> None:
    from bot.routers import demo as demo_module

    app = create_app(gateway_settings(gateway_db_url, demo_mode=False))
    app.include_router(demo_module.router)
    with TestClient(app, follow_redirects=False) as client:
        home = client.get("/")
        attempt = client.post("/demo/sign-in", data={"customer_id": "C001"})

    assert home.status_code == 404 and "Lovelace" not in home.text
    assert attempt.status_code == 404


def test_a_sign_in_form_with_unexpected_fields_is_refused_clearly(demo: TestClient) -> None:
    fields = {f"field{i}": "x" for i in range(6)} | {"customer_id": "C001"}
    response = demo.post("/demo/sign-in", data=fields)

    assert response.status_code == 400
    assert "unexpected fields" in response.text
    assert COOKIE not in demo.cookies


# -- demo sign-in reaches only the demo's own customers (issue 7, item 2) -------------------


def _import_real_customer(db: sessionmaker[Session], external_id: str = "SHOP-7") -> None:
    with db() as session:
        session.add(
            Customer(external_id=external_id, first_name="Real", last_name="Person", email="real@shop.example")
        )
        session.commit()


def test_an_imported_customer_is_never_listed_nor_signed_in_even_in_demo_mode(
    demo: TestClient, db: sessionmaker[Session]
) -> None:
    _import_real_customer(db)
    page = demo.get("/").text
    assert parse(page).options == ["C001", "C002", "C003"]
    assert "SHOP-7" not in page and "Real Person" not in page
    refused = demo.post("/demo/sign-in", data={"customer_id": "SHOP-7"})
    assert refused.status_code == 400 and "no demo customer" in refused.text
    assert COOKIE not in refused.cookies
    # A hand-made cookie naming the real customer gets no signature either.
    demo.cookies.set(COOKIE, "SHOP-7")
    tag = widget_tag(demo.get("/").text)
    assert "data-customer-id" not in tag and "data-signature" not in tag


def test_a_crm_of_only_imported_customers_offers_no_demo_sign_in(
    gateway_db_url: str, db: sessionmaker[Session]
) -> None:
    _import_real_customer(db)
    with client_for(gateway_db_url, demo_mode=True) as client:
        page = client.get("/").text
    assert parse(page).options == [] and "/demo/sign-in" not in parse(page).forms
    assert "your own customers" in page
