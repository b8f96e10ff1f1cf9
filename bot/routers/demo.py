"""The demo shop front at `/` (DEMO_MODE only).

It embeds the widget with the one script tag a shop would paste, and plays
the shop's own backend: a visitor "signs in" as a demo customer and the page
signs that customer's id for the widget. The app includes this router only in
demo mode; every route checks the flag as well, so a wrong include still
exposes nothing.
"""

from __future__ import annotations

import hashlib
import html
import secrets
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated
from decimal import Decimal
from pathlib import Path
from string import Template
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from bot.identity import sign_customer_identity
from bot.deps import Database
from bot.state import GatewayState
from crm.demo import real_customer_count
from crm.models import Customer, Product
from crm.shop import ShopProfileError, load_shop_profile

router = APIRouter()

COOKIE = "demo_customer"
DEFAULT_SHOP_NAME = "Juniper & Oak"
ACCENT = "#2f5d50"
_TEMPLATE = Path(__file__).resolve().parent.parent / "templates" / "demo_shop.html"
_MAX_FORM_BYTES = 2048
_MAX_CUSTOMERS = 200
# How long the page's signature vouches for the visitor; the page is signed afresh on every load.
_SIGNATURE_SECONDS = 3600
_SYMBOLS = {"GBP": "£", "EUR": "€", "USD": "$"}
_SWATCHES = 6  # .swatch-0 … .swatch-5 in the template: inline styles would break the CSP
# Shown when the CRM has no products yet (a fresh install before `make seed`).
_FALLBACK_PRODUCTS = (
    ("Cast Iron Teapot", Decimal("42.00")),
    ("Earl Grey Loose Leaf Tea 200g", Decimal("8.50")),
    ("Speckled Stoneware Mug", Decimal("14.00")),
    ("Linen Napkins (Set of 4)", Decimal("22.00")),
)


@dataclass(frozen=True)
class DemoCustomer:
    external_id: str
    first_name: str
    last_name: str

    @property
    def label(self) -> str:
        return f"{self.first_name} {self.last_name}".strip() + f" ({self.external_id})"


@dataclass(frozen=True)
class ShopFront:
    name: str
    currency: str
    customers: list[DemoCustomer]
    products: list[tuple[str, Decimal | None]]
    signed_in: DemoCustomer | None
    has_real_customers: bool = False


def demo_gateway(request: Request) -> GatewayState:
    gateway: GatewayState = request.state.gateway
    if not gateway.settings.demo_mode:
        raise HTTPException(status_code=404)
    return gateway


DemoGateway = Annotated[GatewayState, Depends(demo_gateway)]


@router.get("/", response_class=HTMLResponse)
async def shop_front(request: Request, gateway: DemoGateway, db: Database) -> Response:
    settings = gateway.settings
    front = await run_in_threadpool(_load_front, db, request.cookies.get(COOKIE))
    signed_in = front.signed_in
    secret = settings.widget_identity_secret.get_secret_value()
    nonce = secrets.token_urlsafe(16)
    page = _template().substitute(
        shop_name=_e(front.name),
        accent=ACCENT,
        nonce=nonce,
        demo_controls=_demo_controls(
            front.customers, signed_in, can_sign=bool(secret), has_real_customers=front.has_real_customers
        ),
        products=_products(front.products, front.currency),
        widget_tag=_widget_tag(request, front.name, signed_in, secret),
    )
    return HTMLResponse(page, headers=_page_headers(nonce))


@router.post("/demo/sign-in")
async def sign_in(request: Request, gateway: DemoGateway, db: Database) -> Response:
    body = await request.body()
    if len(body) > _MAX_FORM_BYTES:
        return _problem(413, "That form was too large.")
    try:
        fields = parse_qs(body.decode("utf-8", errors="replace"), max_num_fields=4)
    except ValueError:
        return _problem(400, "That form had unexpected fields. Pick a customer from the list.")
    customer_id = (fields.get("customer_id") or [""])[0].strip()
    customer = await run_in_threadpool(_find_customer, db, customer_id)
    if customer is None:
        return _problem(400, "There is no demo customer with that id. Pick one from the list.")
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(COOKIE, customer_id, httponly=True, samesite="lax", path="/")
    return response


@router.post("/demo/sign-out")
async def sign_out(gateway: DemoGateway) -> Response:
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


# -- data ------------------------------------------------------------------------


def _load_front(db: sessionmaker[Session], signed_in_id: str | None) -> ShopFront:
    with db() as session:
        customers = _customers(session)
        products = _catalogue(session)
        # A cookie naming someone not (or no longer) in the CRM signs nobody in.
        signed_in = _customer(session, signed_in_id) if signed_in_id else None
        has_real = real_customer_count(session) > 0
    name, currency = _shop_identity()
    return ShopFront(
        name=name,
        currency=currency,
        customers=customers,
        products=products,
        signed_in=signed_in,
        has_real_customers=has_real,
    )


def _find_customer(db: sessionmaker[Session], external_id: str) -> DemoCustomer | None:
    with db() as session:
        return _customer(session, external_id) if external_id else None


def _customer(session: Session, external_id: str) -> DemoCustomer | None:
    # Only rows the demo seed created: demo sign-in can never act as a real customer,
    # whatever DEMO_MODE says and whoever else is in this CRM.
    row = session.execute(
        select(Customer.external_id, Customer.first_name, Customer.last_name).where(
            Customer.external_id == external_id, Customer.is_demo.is_(True)
        )
    ).first()
    return None if row is None else DemoCustomer(external_id=row[0], first_name=row[1], last_name=row[2] or "")


def _customers(session: Session) -> list[DemoCustomer]:
    rows = session.execute(
        select(Customer.external_id, Customer.first_name, Customer.last_name)
        .where(Customer.is_demo.is_(True))
        .order_by(Customer.external_id)
        .limit(_MAX_CUSTOMERS)
    )
    return [DemoCustomer(external_id=r[0], first_name=r[1], last_name=r[2] or "") for r in rows]


def _catalogue(session: Session) -> list[tuple[str, Decimal | None]]:
    rows = session.execute(
        select(Product.name, Product.price).where(Product.active.is_(True)).order_by(Product.name).limit(8)
    )
    return [(r[0], r[1]) for r in rows] or list(_FALLBACK_PRODUCTS)


def _shop_identity() -> tuple[str, str]:
    try:
        profile = load_shop_profile()
    except ShopProfileError:
        # The demo page still works before the owner has written shop.yml.
        return DEFAULT_SHOP_NAME, "GBP"
    return profile.name, profile.currency


# -- rendering (every value escaped; nothing from the CRM goes out raw) ------------


@lru_cache(maxsize=1)
def _template() -> Template:
    return Template(_TEMPLATE.read_text(encoding="utf-8"))


def _e(value: str) -> str:
    return html.escape(value, quote=True)


def _demo_controls(
    customers: list[DemoCustomer], signed_in: DemoCustomer | None, *, can_sign: bool, has_real_customers: bool
) -> str:
    if not can_sign:
        # Without the secret no page can vouch for anyone, so don't pretend to sign in.
        return "<span>Demo sign-in is off: set WIDGET_IDENTITY_SECRET so the widget can verify customers.</span>"
    if signed_in is not None:
        return (
            f'<span>Signed in as <strong data-testid="signed-in">{_e(signed_in.label)}</strong></span>'
            '<form method="post" action="/demo/sign-out">'
            '<button type="submit" class="link">Sign out</button></form>'
        )
    if not customers and has_real_customers:
        return (
            "<span>Demo sign-in is off: this CRM holds your own customers, and the demo only "
            "ever signs in as the customers it created itself.</span>"
        )
    if not customers:
        return "<span>No demo customers yet: run <code>make seed</code>.</span>"
    options = "".join(f'<option value="{_e(c.external_id)}">{_e(c.label)}</option>' for c in customers)
    return (
        '<form method="post" action="/demo/sign-in">'
        '<label for="demo-customer">Sign in as a demo customer</label>'
        f'<select id="demo-customer" name="customer_id">{options}</select>'
        '<button type="submit">Sign in</button></form>'
    )


def _products(products: list[tuple[str, Decimal | None]], currency: str) -> str:
    symbol = _SYMBOLS.get(currency.upper(), currency.upper() + " ")
    items = []
    for name, price in products:
        swatch = int(hashlib.sha256(name.encode()).hexdigest(), 16) % _SWATCHES
        shown_price = f"{symbol}{price:.2f}" if price is not None else ""
        items.append(
            f'    <li class="card"><div class="swatch swatch-{swatch}"></div>'
            f'<h3>{_e(name)}</h3><div class="price">{_e(shown_price)}</div></li>'
        )
    return "\n".join(items)


def _widget_tag(request: Request, shop_name: str, customer: DemoCustomer | None, secret: str) -> str:
    src = request.scope.get("root_path", "") + "/static/widget.js"
    attrs = {"src": src, "data-title": shop_name, "data-color": ACCENT}
    if customer is not None and secret:
        # What a shop's backend does for a signed-in customer.
        expires = int(time.time()) + _SIGNATURE_SECONDS
        attrs["data-customer-id"] = customer.external_id
        attrs["data-expires"] = str(expires)
        attrs["data-signature"] = sign_customer_identity(customer.external_id, expires, secret)
    rendered = " ".join(f'{k}="{_e(v)}"' for k, v in attrs.items())
    return f"<script {rendered} defer></script>"


def _page_headers(nonce: str) -> dict[str, str]:
    # The page carries a signature for whoever is signed in: never cache it. The
    # strict policy also proves the widget needs no inline script or inline style.
    policy = (
        "default-src 'self'; script-src 'self'; "
        f"style-src 'self' 'nonce-{nonce}'; connect-src 'self'; img-src 'self' data:; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
    return {"Cache-Control": "no-store", "Content-Security-Policy": policy, "Referrer-Policy": "same-origin"}


def _problem(status: int, sentence: str) -> HTMLResponse:
    page = (
        '<!doctype html><html lang="en"><meta charset="utf-8"><title>Demo sign-in</title>'
        f'<p>{_e(sentence)}</p><p><a href="/">Back to the shop</a></p></html>'
    )
    return HTMLResponse(page, status_code=status, headers={"Cache-Control": "no-store"})
