"""Secrets compared as bytes: a non-ASCII guess is a refusal (4xx), never a 500.

`hmac.compare_digest` raises TypeError when given a str with non-ASCII
characters; every value compared here comes from the client.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
import pytest

from bot.identity import signature_valid, sign_customer_id
from bot.staff.sessions import SessionSigner, login_csrf_valid
from crm.models import Customer
from tests.fakes.gateway import Gateway
from tests.fakes.rasa import FakeRasa

NON_ASCII = ["é" * 64, "Ｃ００１", "\u0000\u00ff", "😀"]


@pytest.mark.parametrize("guess", NON_ASCII)
def test_the_comparisons_answer_false_on_non_ascii_input(guess: str) -> None:
    assert signature_valid("C001", guess, "secret-0123456789") is False
    assert login_csrf_valid(guess, "ascii-token") is False and login_csrf_valid(guess, guess) is True
    signer = SessionSigner("session-secret-0123456789abcdef", lifetime_seconds=60)
    assert signer.read(f"body.{guess}") is None
    session = signer.read(signer.issue(staff_id=1, password_hash="$argon2id$x"))
    assert session is not None and signer.csrf_valid(session, guess) is False
    # The right values still pass.
    assert signature_valid("C001", sign_customer_id("C001", "secret-0123456789"), "secret-0123456789")


@pytest.mark.asyncio
async def test_a_non_ascii_csrf_field_or_session_cookie_is_refused_not_a_server_error(gateway: Gateway) -> None:
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        await http.get("/staff/sign-in")  # the cookie half of the sign-in CSRF pair
        sign_in = await http.post("/staff/sign-in", data={"csrf": "é" * 32, "email": "a@b.co", "password": "x" * 12})
        assert sign_in.status_code == 403
        # Cookie bytes arrive as Latin-1: "é" in a forged session cookie.
        forged = {b"cookie": "staff_session=e30.é".encode("latin-1"), b"accept": b"application/json"}
        page = await http.get("/staff", headers=forged)
        post = await http.post("/staff/sign-out", headers=forged)
    assert page.status_code == 303 and page.headers["location"].startswith("/staff/sign-in")
    assert post.status_code == 401


@pytest.mark.asyncio
async def test_a_non_ascii_widget_signature_is_treated_as_anonymous(
    gateway: Gateway, fake_rasa: FakeRasa, customer: Customer
) -> None:
    async with gateway.connect(customer_id="C001", signature=quote("é" * 64)) as tab:
        session: dict[str, Any] = await tab.recv()
        assert session["type"] == "session"
        await tab.recv()
        await tab.say("c-1", "hello")
        await tab.recv_until(lambda f: f["type"] == "message" and f["from"] == "bot")
    assert fake_rasa.calls[0].metadata["customer_id"] is None
