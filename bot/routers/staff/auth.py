"""Staff sign-in and sign-out: /staff/sign-in, /staff/sign-out."""

from __future__ import annotations

import logging
import math
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bot.deps import Console, Form, Staff, StaffPost
from bot.staff import accounts, sessions
from bot.staff.context import StaffContext
from bot.staff.hashing import HashingBusy
from bot.staff.pages import Refusal, headers, local_next, page
from crm.services.audit import audit

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/staff")


def _secure(request: Request, ctx: StaffContext) -> bool:
    """Secure cookies except on plain-HTTP loopback (a shop trying it out on its own machine).
    In production always: behind a proxy the Host and scheme say nothing trustworthy."""
    if ctx.settings.environment == "production":
        return True
    host = (request.url.hostname or "").lower()
    return request.url.scheme == "https" or host not in {"localhost", "127.0.0.1", "::1"}


@router.get("/sign-in", response_class=HTMLResponse)
async def sign_in_page(request: Request, ctx: Console) -> Response:
    if await ctx.principal(request.cookies.get(sessions.COOKIE)) is not None:
        return RedirectResponse(local_next(request.query_params.get("next")), status_code=303)
    return _sign_in_form(request, ctx, 200, error=None, email="")


def _sign_in_form(request: Request, ctx: StaffContext, status: int, *, error: str | None, email: str) -> Response:
    token = sessions.new_login_csrf()
    response = page(
        request,
        "staff/sign_in.html",
        status,
        principal=None,
        error=error,
        email=email,
        csrf=token,
        next=local_next(request.query_params.get("next")),
    )
    _cookie(response, request, ctx, sessions.LOGIN_CSRF_COOKIE, token, max_age=3600, path="/staff")
    return response


def _cookie(
    response: Response, request: Request, ctx: StaffContext, name: str, value: str, *, max_age: int, path: str
) -> None:
    response.set_cookie(
        name, value, max_age=max_age, path=path, httponly=True, secure=_secure(request, ctx), samesite="strict"
    )


@router.post("/sign-in")
async def sign_in(request: Request, ctx: Console, fields: Form) -> Response:
    assert ctx.signer is not None
    if not sessions.login_csrf_valid(
        request.cookies.get(sessions.LOGIN_CSRF_COOKIE), fields.get(sessions.CSRF_FIELD)
    ):
        logger.warning("staff sign-in refused: CSRF token missing or wrong")
        raise Refusal(403, "The sign-in form expired. Reload the page and try again.")
    email = accounts.normalise_email(fields.get("email", ""))[:254]
    password = fields.get("password", "")
    ip = request.client.host if request.client else "unknown"
    device_id = ctx.signer.device_id(request.cookies.get(sessions.DEVICE_COOKIE), email=email)
    decision = ctx.sign_in_guard.check(email=email, ip=ip, device_id=device_id)
    if not decision.allowed:
        await ctx.db(
            _audit, actor="anonymous", action="staff.sign_in_limited", subject="", detail={"scope": decision.scope}
        )
        logger.warning("staff sign-in rate limited", extra={"scope": decision.scope})
        wait = max(1, decision.retry_after_seconds)
        error = f"Too many sign-in attempts. Please wait {_seconds(wait)} and try again."
        limited = _sign_in_form(request, ctx, 429, error=error, email=email)
        limited.headers["Retry-After"] = str(wait)
        return limited
    try:
        staff = await _authenticate(ctx, email=email, password=password)
    except HashingBusy:
        logger.warning("staff sign-in refused: password hashing is saturated")
        error = "Signing in is busy right now. Please try again in a few seconds."
        busy = _sign_in_form(request, ctx, 503, error=error, email=email)
        busy.headers["Retry-After"] = "5"
        return busy
    if staff is None:
        logger.info("staff sign-in failed")
        error = "That e-mail and password don't match an active staff account."
        return _sign_in_form(request, ctx, 401, error=error, email=email)
    staff_id, password_hash = staff
    token = ctx.signer.issue(staff_id=staff_id, password_hash=password_hash)
    logger.info("staff signed in", extra={"staff_user_id": staff_id})
    response = RedirectResponse(local_next(fields.get("next")), status_code=303, headers=headers())
    _cookie(response, request, ctx, sessions.COOKIE, token, max_age=int(ctx.signer.lifetime_seconds), path="/staff")
    # This browser (and address) is now known-good for the account: guesses from elsewhere can't shut it out.
    ctx.sign_in_guard.known.remember(email, ip)
    device = ctx.signer.device_token(email=email)
    _cookie(
        response, request, ctx, sessions.DEVICE_COOKIE, device,
        max_age=sessions.DEVICE_LIFETIME_SECONDS, path="/staff/sign-in",
    )  # fmt: skip
    response.delete_cookie(sessions.LOGIN_CSRF_COOKIE, path="/staff")
    return response


def _seconds(n: int) -> str:
    if n < 60:
        return "1 second" if n == 1 else f"{n} seconds"
    minutes = math.ceil(n / 60)
    return "1 minute" if minutes == 1 else f"{minutes} minutes"


async def _authenticate(ctx: StaffContext, *, email: str, password: str) -> tuple[int, str] | None:
    """(staff id, password hash) for the right password of an active account, else None.

    The database work runs on the usual threads, argon2 on its own bounded pool
    (bot/staff/hashing.py): a sign-in flood must not hold up chats. Raises
    HashingBusy when that pool is full.
    """
    known = await ctx.db(_sign_in_candidate, email=email)
    # Checked against a dummy hash when there is no account: the same work either way.
    ok = await ctx.hasher.verify(known[1] if known else None, password)
    fresh_hash = None
    if known and ok and known[2] and await ctx.hasher.needs_rehash(known[1]):
        fresh_hash = await ctx.hasher.rehash(password)
    return await ctx.db(_record_sign_in, email=email, checked=known, ok=ok, fresh_hash=fresh_hash)


def _sign_in_candidate(session: Any, *, email: str) -> tuple[int, str, bool] | None:
    staff = accounts.get_staff_by_email(session, email=email)
    return (staff.id, staff.password_hash, staff.active) if staff is not None else None


def _record_sign_in(
    session: Any, *, email: str, checked: tuple[int, str, bool] | None, ok: bool, fresh_hash: str | None
) -> tuple[int, str] | None:
    staff = accounts.get_staff_by_email(session, email=email)
    # The password must still be the one that was checked (it may have changed meanwhile).
    if staff is None or not ok or not staff.active or checked is None or staff.password_hash != checked[1]:
        audit(
            session,
            actor="anonymous",
            action="staff.sign_in_failed",
            subject=f"staff:{staff.id}" if staff is not None else "",
            detail={"reason": "bad_password" if staff is not None else "unknown_account"},
        )
        return None
    if fresh_hash is not None:
        staff.password_hash = fresh_hash
    audit(session, actor=f"staff:{staff.id}", action="staff.sign_in", subject=f"staff:{staff.id}")
    return staff.id, staff.password_hash


def _audit(session: Any, **kwargs: Any) -> None:
    audit(session, **kwargs)


@router.post("/sign-out")
async def sign_out(ctx: Staff, post: StaffPost) -> Response:
    assert ctx.signer is not None
    ctx.signer.revoke(post.principal.session)
    actor = post.principal.actor
    await ctx.db(_audit, actor=actor, action="staff.sign_out", subject=actor)
    response = RedirectResponse("/staff/sign-in", status_code=303, headers=headers())
    response.delete_cookie(sessions.COOKIE, path="/staff")
    return response
