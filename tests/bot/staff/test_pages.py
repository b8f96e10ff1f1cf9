"""bot.staff.pages: how the console answers — never cached or framed, refusals as pages or JSON,
sign-in links that stay inside the console, and a form reader with limits."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from bot.staff.context import make_templates
from bot.staff.pages import (
    ConsoleClosed,
    Refusal,
    SignInRequired,
    Unauthorised,
    done,
    headers,
    install,
    local_next,
    read_form,
)


FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture
def client() -> TestClient:
    app = FastAPI()
    install(app)
    templates = make_templates()

    @app.middleware("http")
    async def console(request: Request, call_next):  # type: ignore[no-untyped-def]
        request.state.staff = SimpleNamespace(templates=templates)
        return await call_next(request)

    @app.post("/staff/refuse")
    async def refuse() -> None:
        raise Refusal(409, "Someone else took it.")

    @app.get("/staff/closed")
    async def closed() -> None:
        raise ConsoleClosed

    @app.get("/staff/private")
    async def private() -> None:
        raise SignInRequired("/staff/private")

    @app.get("/staff/fragment")
    async def fragment() -> None:
        raise Unauthorised

    @app.post("/staff/form")
    async def form(request: Request) -> dict[str, str]:
        return await read_form(request)

    @app.post("/staff/done")
    async def finished(request: Request):  # type: ignore[no-untyped-def]
        return done(request, "/staff/queue", {"ok": True})

    return TestClient(app, follow_redirects=False)


def test_every_answer_is_uncached_unframed_and_scriptless() -> None:
    sent = headers()
    assert sent["Cache-Control"] == "no-store" and sent["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in sent["Content-Security-Policy"]
    assert "script-src 'self'" in sent["Content-Security-Policy"] and "unsafe-inline" not in sent["Content-Security-Policy"]


@pytest.mark.parametrize(
    ("asked", "kept"),
    [
        ("/staff/conversations/c1", "/staff/conversations/c1"),
        ("/staff?x=1", "/staff?x=1"),
        ("https://evil.example/staff", "/staff"),
        ("//evil.example/staff", "/staff"),
        ("/staff\\..\\evil", "/staff"),
        ("/elsewhere", "/staff"),
        ("", "/staff"),
        (None, "/staff"),
    ],
)
def test_after_sign_in_only_a_path_inside_the_console_is_followed(asked: str | None, kept: str) -> None:
    assert local_next(asked) == kept


def test_a_refusal_is_a_page_or_json_with_its_status(client: TestClient) -> None:
    page = client.post("/staff/refuse")
    assert page.status_code == 409 and "Someone else took it." in page.text and "Not done" in page.text
    assert page.headers["x-frame-options"] == "DENY"
    as_json = client.post("/staff/refuse", headers={"Accept": "application/json"})
    assert (as_json.status_code, as_json.json()) == (409, {"error": "Someone else took it."})


def test_closed_signed_out_and_unauthorised_answers(client: TestClient) -> None:
    closed = client.get("/staff/closed")
    assert closed.status_code == 503 and "STAFF_SESSION_SECRET" in closed.text
    redirect = client.get("/staff/private")
    assert (redirect.status_code, redirect.headers["location"]) == (303, "/staff/sign-in?next=/staff/private")
    fragment = client.get("/staff/fragment")
    assert (fragment.status_code, fragment.text, fragment.headers["cache-control"]) == (401, "", "no-store")


def test_done_redirects_a_form_and_answers_the_script_in_json(client: TestClient) -> None:
    form = client.post("/staff/done")
    assert (form.status_code, form.headers["location"]) == (303, "/staff/queue")
    assert client.post("/staff/done", headers={"Accept": "application/json"}).json() == {"ok": True}


def test_a_form_is_read_once_per_field_and_refused_when_too_large_or_not_a_form(client: TestClient) -> None:
    ok = client.post("/staff/form", content="a=1&b=&a=2", headers=FORM)
    assert ok.json() == {"a": "1", "b": ""}
    too_big = client.post("/staff/form", content="a=" + "x" * 17000, headers=FORM)
    assert too_big.status_code == 413
    as_json = client.post("/staff/form", json={"a": 1}, headers={"Accept": "application/json"})
    assert (as_json.status_code, as_json.json()) == (415, {"error": "Send the form as a web form."})
    not_utf8 = client.post("/staff/form", content=b"a=\xff", headers=FORM)
    assert not_utf8.status_code == 400
    too_many = client.post("/staff/form", content="&".join(f"f{i}=1" for i in range(30)), headers=FORM)
    assert too_many.status_code == 400
