"""How the staff console answers: its headers, pages, refusals, and the form reader.

The guards in bot/deps.py raise the exceptions below; `install` registers one
handler for each on the app, so no endpoint repeats "signed-in page or Response".
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from bot.staff.context import Principal

_MAX_FORM_BYTES = 16 * 1024


class Refusal(Exception):
    """Not done: a status and a sentence for the staff member (a page, or JSON for the script)."""

    def __init__(self, status: int, sentence: str) -> None:
        super().__init__(sentence)
        self.status = status
        self.sentence = sentence


class ConsoleClosed(Exception):
    """No STAFF_SESSION_SECRET in production: every page says so."""


class SignInRequired(Exception):
    """A page asked for while signed out: go to the sign-in page, then back to `path`."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


class Unauthorised(Exception):
    """A fragment asked for while signed out: 401 with an empty body."""


def headers() -> dict[str, str]:
    # Staff pages show customers' personal data: never cached, never framed, no inline script.
    return {
        "Cache-Control": "no-store",
        "Content-Security-Policy": (
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
        ),
        "Referrer-Policy": "same-origin",
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
    }


def page(request: Request, template: str, status: int = 200, **values: Any) -> HTMLResponse:
    html = request.state.staff.templates.get_template(template).render(**values)
    return HTMLResponse(html, status_code=status, headers=headers())


def wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


async def read_form(request: Request) -> dict[str, str]:
    body = await request.body()
    if len(body) > _MAX_FORM_BYTES:
        raise Refusal(413, "That form was too large.")
    if request.headers.get("content-type", "").split(";")[0].strip() not in (
        "application/x-www-form-urlencoded",
        "",
    ):
        raise Refusal(415, "Send the form as a web form.")
    try:
        fields = parse_qs(
            body.decode("utf-8"), keep_blank_values=True, max_num_fields=20, strict_parsing=False
        )
    except (UnicodeDecodeError, ValueError) as exc:
        raise Refusal(400, "That form could not be read.") from exc
    return {key: values[0] for key, values in fields.items()}


def local_next(value: str | None) -> str:
    """Only a path inside the console: a sign-in link must not send staff elsewhere."""
    if value and value.startswith("/staff") and not value.startswith("//") and "\\" not in value:
        parts = urlsplit(value)
        if not parts.scheme and not parts.netloc:
            return value
    return "/staff"


def closed(request: Request) -> HTMLResponse:
    return page(
        request,
        "staff/message.html",
        503,
        title="Staff console closed",
        sentence="The staff console is not configured: set STAFF_SESSION_SECRET and restart the gateway.",
        principal=None,
    )


def refused(request: Request, refusal: Refusal, principal: Principal | None = None) -> Response:
    if wants_json(request):
        return JSONResponse({"error": refusal.sentence}, status_code=refusal.status, headers=headers())
    return page(
        request,
        "staff/message.html",
        refusal.status,
        title="Not done",
        sentence=refusal.sentence,
        principal=principal,
    )


def done(request: Request, location: str, payload: dict[str, Any]) -> Response:
    """Done: JSON for the console's script, else back to `location` (303)."""
    if wants_json(request):
        return JSONResponse(payload, headers=headers())
    return RedirectResponse(location, status_code=303, headers=headers())


async def _on_refusal(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Refusal)
    return refused(request, exc, getattr(request.state, "principal", None))


async def _on_closed(request: Request, exc: Exception) -> Response:
    return closed(request)


async def _on_sign_in_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SignInRequired)
    return RedirectResponse(f"/staff/sign-in?next={exc.path}", status_code=303, headers=headers())


async def _on_unauthorised(request: Request, exc: Exception) -> Response:
    return Response(status_code=401, headers=headers())


def install(app: FastAPI) -> None:
    """Answer the staff guards' exceptions, once for every staff router."""
    app.add_exception_handler(Refusal, _on_refusal)
    app.add_exception_handler(ConsoleClosed, _on_closed)
    app.add_exception_handler(SignInRequired, _on_sign_in_required)
    app.add_exception_handler(Unauthorised, _on_unauthorised)
