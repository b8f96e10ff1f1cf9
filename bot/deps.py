"""Typed dependencies for the gateway's routers, as FastAPI's "Bigger Applications" builds them.

Everything here reads what the lifespan built (bot/app.py) from the request's
state; nothing is created per request. The staff guards raise the exceptions
of bot/staff/pages.py, answered once by the handlers installed there:

    SignedIn   a page: the sign-in page (303) when signed out, 503 when the console is closed
    Admin      a page for admins only (403 for an agent)
    StaffPost  a POST: signed in (Poster, else 401), a readable form (Form) and its CSRF token (else 403)
    AdminPost  the same, for admins only
    Viewer     a fragment: the principal, or 401 with an empty body
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker
from starlette.requests import HTTPConnection

from bot.conversations import ConversationService
from bot.settings import GatewaySettings
from bot.shop.inbox import ShopInbox
from bot.staff import sessions
from bot.staff.context import Principal, StaffContext
from bot.staff.pages import ConsoleClosed, Refusal, SignInRequired, Unauthorised, read_form

logger = logging.getLogger(__name__)


def staff_context(connection: HTTPConnection) -> StaffContext:
    return connection.state.staff  # type: ignore[no-any-return]


def gateway_settings(connection: HTTPConnection) -> GatewaySettings:
    return staff_context(connection).settings


def conversation_service(connection: HTTPConnection) -> ConversationService:
    return staff_context(connection).service


def database(connection: HTTPConnection) -> sessionmaker[Session]:
    """The gateway's one sessionmaker, made in the lifespan."""
    return connection.app.state.sessionmaker  # type: ignore[no-any-return]


def shop_inbox(connection: HTTPConnection) -> ShopInbox:
    return connection.state.shop  # type: ignore[no-any-return]


Staff = Annotated[StaffContext, Depends(staff_context)]
Settings = Annotated[GatewaySettings, Depends(gateway_settings)]
Service = Annotated[ConversationService, Depends(conversation_service)]
Database = Annotated[sessionmaker[Session], Depends(database)]
Inbox = Annotated[ShopInbox, Depends(shop_inbox)]


def open_console(ctx: Staff) -> StaffContext:
    """The staff context, or the "console closed" page when no session secret is set."""
    if ctx.signer is None:
        raise ConsoleClosed()
    return ctx


Console = Annotated[StaffContext, Depends(open_console)]


async def viewer(request: Request, ctx: Staff) -> Principal:
    """For fragments the console's script fetches: 401 with an empty body when signed out."""
    principal = await ctx.principal(request.cookies.get(sessions.COOKIE))
    if principal is None:
        raise Unauthorised()
    return principal


async def signed_in(request: Request, ctx: Console) -> Principal:
    """For pages: the signed-in staff member, else a redirect to the sign-in page."""
    principal = await ctx.principal(request.cookies.get(sessions.COOKIE))
    if principal is None:
        raise SignInRequired(quote(request.url.path))
    request.state.principal = principal  # refusals from here on show the staff member's header
    return principal


async def admin(principal: Annotated[Principal, Depends(signed_in)]) -> Principal:
    if not principal.is_admin:
        raise Refusal(403, "Only admins can see this page.")
    return principal


Viewer = Annotated[Principal, Depends(viewer)]
SignedIn = Annotated[Principal, Depends(signed_in)]
Admin = Annotated[Principal, Depends(admin)]


@dataclass(frozen=True)
class Post:
    """A checked POST: who sent it and its form fields."""

    principal: Principal
    fields: dict[str, str]


async def form(request: Request) -> dict[str, str]:
    return await read_form(request)


Form = Annotated[dict[str, str], Depends(form)]


async def poster(request: Request, ctx: Staff) -> Principal:
    """Who sent a POST: 503 while the console is closed, 401 when signed out (no redirect for a form)."""
    if ctx.signer is None:
        raise Refusal(503, "The staff console is not configured.")
    principal = await ctx.principal(request.cookies.get(sessions.COOKIE))
    if principal is None:
        raise Refusal(401, "Please sign in again.")
    return principal


Poster = Annotated[Principal, Depends(poster)]


async def csrf_checked(request: Request, ctx: Staff, principal: Poster, fields: Form) -> Post:
    """The CSRF token of the poster's session, in the X-CSRF-Token header or the form, else 403."""
    token = request.headers.get(sessions.CSRF_HEADER) or fields.get(sessions.CSRF_FIELD)
    assert ctx.signer is not None
    if not ctx.signer.csrf_valid(principal.session, token):
        logger.warning(
            "staff request refused: CSRF token missing or wrong", extra={"staff_user_id": principal.id}
        )
        raise Refusal(403, "This form has expired. Reload the page and try again.")
    request.state.principal = principal  # refusals from here on show the staff member's header
    return Post(principal, fields)


StaffPost = Annotated[Post, Depends(csrf_checked)]


async def admin_post(request: Request, post: StaffPost) -> Post:
    if not post.principal.is_admin:
        request.state.principal = None  # refused before any admin work: the plain refusal page
        raise Refusal(403, "Only admins can manage staff accounts.")
    return post


AdminPost = Annotated[Post, Depends(admin_post)]
