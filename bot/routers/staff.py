"""The staff console at /staff: sign-in, the live queue, conversations, staff accounts, audit log.

Server-rendered pages that work without JavaScript (forms post and redirect
back); /static/staff.js adds live updates over /staff/ws and posts forms in
the background. Every request is checked here: a signed session cookie for
an active account (else the sign-in page, or 401 for a POST), a CSRF token on
every POST (else 403), and the role for admin pages (else 403).
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from fastapi import APIRouter, Request, WebSocket
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.websockets import WebSocketDisconnect, WebSocketState

from bot import store
from bot.conversations import STAFF_QUEUE_KEY, DeliveryFailed, staff_conversation_key
from bot.staff import accounts, console, sessions
from bot.staff.canned import load_canned
from bot.staff.context import Principal, StaffContext
from bot.staff.hashing import HashingBusy
from bot.staff.passwords import WeakPassword
from crm.clock import utcnow
from crm.models import ConversationState, StaffRole
from crm.services.audit import audit

logger = logging.getLogger(__name__)

router = APIRouter()

_MAX_FORM_BYTES = 16 * 1024
_CONVERSATION_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_AUDIT_PAGE = 100
# Close codes for the live socket (4000-4999 are the application's own).
CLOSE_SIGNED_OUT = 4401
CLOSE_FORBIDDEN = 4403

REFUSALS = {
    "not_found": (404, "That conversation doesn't exist."),
    "taken": (409, "Someone else has already taken this conversation."),
    "changed": (409, "The conversation changed while you were acting on it. The page now shows where it is."),
    "resolving": (409, "This conversation is being handed back to the assistant."),
    "not_assigned": (409, "Assign the conversation to yourself before replying."),
    "not_yours": (403, "This conversation is assigned to someone else."),
    "not_held": (409, "This conversation isn't with staff at the moment."),
    "not_staff": (403, "Your account is not active."),
}


class Refusal(Exception):
    def __init__(self, status: int, sentence: str) -> None:
        super().__init__(sentence)
        self.status = status
        self.sentence = sentence


def _ctx(request: Request | WebSocket) -> StaffContext:
    return request.state.staff


def _headers() -> dict[str, str]:
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


def _secure(request: Request) -> bool:
    """Secure cookies except on plain-HTTP loopback (a shop trying it out on its own machine).
    In production always: behind a proxy the Host and scheme say nothing trustworthy."""
    if _ctx(request).settings.environment == "production":
        return True
    host = (request.url.hostname or "").lower()
    return request.url.scheme == "https" or host not in {"localhost", "127.0.0.1", "::1"}


def _page(request: Request, template: str, status: int = 200, **values: Any) -> HTMLResponse:
    ctx = _ctx(request)
    html = ctx.templates.get_template(template).render(**values)
    return HTMLResponse(html, status_code=status, headers=_headers())


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


async def _form(request: Request) -> dict[str, str]:
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


def _local_next(value: str | None) -> str:
    """Only a path inside the console: a sign-in link must not send staff elsewhere."""
    if value and value.startswith("/staff") and not value.startswith("//") and "\\" not in value:
        parts = urlsplit(value)
        if not parts.scheme and not parts.netloc:
            return value
    return "/staff"


# -- who is asking -----------------------------------------------------------------


async def _principal(request: Request) -> Principal | None:
    return await _ctx(request).principal(request.cookies.get(sessions.COOKIE))


def _closed(request: Request) -> HTMLResponse:
    return _page(
        request,
        "staff/message.html",
        503,
        title="Staff console closed",
        sentence="The staff console is not configured: set STAFF_SESSION_SECRET and restart the gateway.",
        principal=None,
    )


async def _signed_in_page(request: Request) -> Principal | Response:
    """For pages: the principal, or the sign-in page to go to."""
    if _ctx(request).signer is None:
        return _closed(request)
    principal = await _principal(request)
    if principal is None:
        path = request.url.path
        return RedirectResponse(f"/staff/sign-in?next={quote(path)}", status_code=303, headers=_headers())
    return principal


async def _signed_in_post(request: Request) -> tuple[Principal, dict[str, str]]:
    """For POSTs: a signed-in principal and a valid CSRF token, else a Refusal (401 / 403)."""
    if _ctx(request).signer is None:
        raise Refusal(503, "The staff console is not configured.")
    principal = await _principal(request)
    if principal is None:
        raise Refusal(401, "Please sign in again.")
    fields = await _form(request)
    token = request.headers.get(sessions.CSRF_HEADER) or fields.get(sessions.CSRF_FIELD)
    signer = _ctx(request).signer
    assert signer is not None
    if not signer.csrf_valid(principal.session, token):
        logger.warning(
            "staff request refused: CSRF token missing or wrong", extra={"staff_user_id": principal.id}
        )
        raise Refusal(403, "This form has expired. Reload the page and try again.")
    return principal, fields


def _refused(request: Request, refusal: Refusal, principal: Principal | None = None) -> Response:
    if _wants_json(request):
        return JSONResponse({"error": refusal.sentence}, status_code=refusal.status, headers=_headers())
    return _page(
        request,
        "staff/message.html",
        refusal.status,
        title="Not done",
        sentence=refusal.sentence,
        principal=principal,
    )


def _transition_refused(exc: store.TransitionRefused) -> Refusal:
    status, sentence = REFUSALS.get(exc.reason, (409, "That can't be done right now."))
    return Refusal(status, sentence)


# -- sign-in ---------------------------------------------------------------------------


@router.get("/staff/sign-in", response_class=HTMLResponse)
async def sign_in_page(request: Request) -> Response:
    if _ctx(request).signer is None:
        return _closed(request)
    if await _principal(request) is not None:
        return RedirectResponse(_local_next(request.query_params.get("next")), status_code=303)
    return _sign_in_form(request, 200, error=None, email="")


def _sign_in_form(request: Request, status: int, *, error: str | None, email: str) -> Response:
    token = sessions.new_login_csrf()
    response = _page(
        request,
        "staff/sign_in.html",
        status,
        principal=None,
        error=error,
        email=email,
        csrf=token,
        next=_local_next(request.query_params.get("next")),
    )
    response.set_cookie(
        sessions.LOGIN_CSRF_COOKIE,
        token,
        max_age=3600,
        path="/staff",
        httponly=True,
        secure=_secure(request),
        samesite="strict",
    )
    return response


@router.post("/staff/sign-in")
async def sign_in(request: Request) -> Response:
    ctx = _ctx(request)
    if ctx.signer is None:
        return _closed(request)
    try:
        fields = await _form(request)
    except Refusal as refusal:
        return _refused(request, refusal)
    if not sessions.login_csrf_valid(
        request.cookies.get(sessions.LOGIN_CSRF_COOKIE), fields.get(sessions.CSRF_FIELD)
    ):
        logger.warning("staff sign-in refused: CSRF token missing or wrong")
        return _refused(request, Refusal(403, "The sign-in form expired. Reload the page and try again."))
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
        limited = _sign_in_form(
            request,
            429,
            error=f"Too many sign-in attempts. Please wait {_seconds(wait)} and try again.",
            email=email,
        )
        limited.headers["Retry-After"] = str(wait)
        return limited
    try:
        staff = await _authenticate(ctx, email=email, password=password)
    except HashingBusy:
        logger.warning("staff sign-in refused: password hashing is saturated")
        busy = _sign_in_form(
            request, 503, error="Signing in is busy right now. Please try again in a few seconds.", email=email
        )
        busy.headers["Retry-After"] = "5"
        return busy
    if staff is None:
        logger.info("staff sign-in failed")
        return _sign_in_form(
            request, 401, error="That e-mail and password don't match an active staff account.", email=email
        )
    staff_id, password_hash = staff
    token = ctx.signer.issue(staff_id=staff_id, password_hash=password_hash)
    logger.info("staff signed in", extra={"staff_user_id": staff_id})
    response = RedirectResponse(_local_next(fields.get("next")), status_code=303, headers=_headers())
    response.set_cookie(
        sessions.COOKIE,
        token,
        max_age=int(ctx.signer.lifetime_seconds),
        path="/staff",
        httponly=True,
        secure=_secure(request),
        samesite="strict",
    )
    # This browser (and address) is now known-good for the account: guesses from elsewhere can't shut it out.
    ctx.sign_in_guard.known.remember(email, ip)
    response.set_cookie(
        sessions.DEVICE_COOKIE,
        ctx.signer.device_token(email=email),
        max_age=sessions.DEVICE_LIFETIME_SECONDS,
        path="/staff/sign-in",
        httponly=True,
        secure=_secure(request),
        samesite="strict",
    )
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


@router.post("/staff/sign-out")
async def sign_out(request: Request) -> Response:
    try:
        principal, _ = await _signed_in_post(request)
    except Refusal as refusal:
        return _refused(request, refusal)
    ctx = _ctx(request)
    assert ctx.signer is not None
    ctx.signer.revoke(principal.session)
    await ctx.db(_audit, actor=principal.actor, action="staff.sign_out", subject=principal.actor)
    response = RedirectResponse("/staff/sign-in", status_code=303, headers=_headers())
    response.delete_cookie(sessions.COOKIE, path="/staff")
    return response


# -- the queue -------------------------------------------------------------------------


@router.get("/staff", response_class=HTMLResponse)
async def queue_page(request: Request) -> Response:
    principal = await _signed_in_page(request)
    if isinstance(principal, Response):
        return principal
    view = await _ctx(request).db(console.queue_view, now=utcnow())
    return _page(request, "staff/queue.html", principal=principal, view=view)


@router.get("/staff/queue", response_class=HTMLResponse)
async def queue_fragment(request: Request) -> Response:
    principal = await _principal(request)
    if principal is None:
        return Response(status_code=401, headers=_headers())
    return HTMLResponse(await render_queue(_ctx(request)), headers=_headers())


async def render_queue(ctx: StaffContext) -> str:
    view = await ctx.db(console.queue_view, now=utcnow())
    return ctx.templates.get_template("staff/_queue.html").render(view=view)


# -- one conversation --------------------------------------------------------------------


@dataclass(frozen=True)
class Controls:
    state: str
    status: str
    assignee_name: str | None
    can_assign: bool
    take_over: bool
    can_reply: bool
    can_resolve: bool

    def as_json(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "status": self.status,
            "assignee_name": self.assignee_name,
            "can_assign": self.can_assign,
            "take_over": self.take_over,
            "can_reply": self.can_reply,
            "can_resolve": self.can_resolve,
        }


def controls_for(
    principal: Principal, state: ConversationState, assignee_id: int | None, assignee_name: str | None
) -> Controls:
    mine = state == ConversationState.assigned and assignee_id == principal.id
    if state == ConversationState.queued:
        status = "Waiting in the queue"
    elif state == ConversationState.assigned:
        status = "Assigned to you" if mine else f"Assigned to {assignee_name or 'a colleague'}"
    elif state == ConversationState.resolved:
        status = "Resolved — handing back to the assistant"
    else:
        status = "With the assistant"
    can_assign = state in (ConversationState.bot, ConversationState.queued) or (
        state == ConversationState.assigned and not mine and principal.is_admin
    )
    return Controls(
        state=state.value,
        status=status,
        assignee_name=assignee_name,
        can_assign=can_assign,
        take_over=state != ConversationState.queued,
        can_reply=mine,
        can_resolve=mine or (principal.is_admin and state in store.HELD_STATES),
    )


def _conversation_id(value: str) -> str:
    if not _CONVERSATION_ID.match(value):
        raise Refusal(404, "That conversation doesn't exist.")
    return value


@router.get("/staff/conversations/{conversation_id}", response_class=HTMLResponse)
async def conversation_page(request: Request, conversation_id: str) -> Response:
    principal = await _signed_in_page(request)
    if isinstance(principal, Response):
        return principal
    ctx = _ctx(request)
    try:
        view = await ctx.db(
            _view_and_audit, conversation_id=_conversation_id(conversation_id), principal=principal
        )
        if view is None:
            raise Refusal(404, "That conversation doesn't exist.")
    except Refusal as refusal:
        return _refused(request, refusal, principal)
    canned = load_canned(ctx.settings.canned_replies_path)
    return _page(
        request,
        "staff/conversation.html",
        principal=principal,
        view=view,
        controls=controls_for(principal, view.state, view.assignee_id, view.assignee_name),
        canned=canned.replies,
        max_chars=ctx.settings.max_message_chars,
    )


def _view_and_audit(
    session: Any, *, conversation_id: str, principal: Principal
) -> console.ConversationView | None:
    view = console.conversation_view(session, conversation_id=conversation_id)
    if view is not None:
        # Opening a conversation shows a customer's personal data: that is a staff action too.
        audit(
            session,
            actor=principal.actor,
            action="conversation.view",
            subject=f"conversation:{conversation_id}",
        )
    return view


@router.get("/staff/conversations/{conversation_id}/transcript", response_class=HTMLResponse)
async def transcript_fragment(request: Request, conversation_id: str) -> Response:
    principal = await _principal(request)
    if principal is None:
        return Response(status_code=401, headers=_headers())
    ctx = _ctx(request)
    try:
        view = await ctx.db(console.conversation_view, conversation_id=_conversation_id(conversation_id))
    except Refusal:
        view = None
    if view is None:
        return Response(status_code=404, headers=_headers())
    html = ctx.templates.get_template("staff/_transcript.html").render(view=view)
    return HTMLResponse(html, headers=_headers())


async def _controls_json(ctx: StaffContext, principal: Principal, conversation_id: str) -> dict[str, Any]:
    view = await ctx.db(console.conversation_view, conversation_id=conversation_id)
    if view is None:
        return {}
    return controls_for(principal, view.state, view.assignee_id, view.assignee_name).as_json()


def _done(request: Request, conversation_id: str, payload: dict[str, Any]) -> Response:
    if _wants_json(request):
        return JSONResponse({"ok": True, **payload}, headers=_headers())
    return RedirectResponse(f"/staff/conversations/{conversation_id}", status_code=303, headers=_headers())


@router.post("/staff/conversations/{conversation_id}/assign")
async def assign(request: Request, conversation_id: str) -> Response:
    principal: Principal | None = None
    try:
        principal, _ = await _signed_in_post(request)
        cid = _conversation_id(conversation_id)
        try:
            await _ctx(request).service.assign(
                conversation_id=cid, staff_id=principal.id, may_take_over=principal.is_admin
            )
        except store.TransitionRefused as exc:
            raise _transition_refused(exc) from exc
        except DeliveryFailed:
            logger.warning("assignment notice not delivered", extra={"conversation_id": cid})
    except Refusal as refusal:
        return _refused(request, refusal, principal)
    return _done(request, cid, {"controls": await _controls_json(_ctx(request), principal, cid)})


@router.post("/staff/conversations/{conversation_id}/reply")
async def reply(request: Request, conversation_id: str) -> Response:
    principal: Principal | None = None
    ctx = _ctx(request)
    try:
        principal, fields = await _signed_in_post(request)
        cid = _conversation_id(conversation_id)
        text = fields.get("text", "").strip()
        if not text:
            raise Refusal(400, "Type a reply first.")
        if len(text) > ctx.settings.max_message_chars:
            raise Refusal(
                400, f"That reply is {len(text)} characters; the limit is {ctx.settings.max_message_chars}."
            )
        try:
            outbound = await ctx.service.staff_reply(
                conversation_id=cid, staff_id=principal.id, staff_name=principal.name, text=text
            )
        except store.TransitionRefused as exc:
            raise _transition_refused(exc) from exc
        except DeliveryFailed as exc:
            logger.warning("staff reply stored but not delivered: %s", exc, extra={"conversation_id": cid})
            raise Refusal(
                502,
                "Your reply is saved in the conversation, "
                "but the customer's channel didn't accept it just now.",
            ) from exc
    except Refusal as refusal:
        return _refused(request, refusal, principal)
    return _done(request, cid, {"message_id": outbound.id})


@router.post("/staff/conversations/{conversation_id}/resolve")
async def resolve(request: Request, conversation_id: str) -> Response:
    principal: Principal | None = None
    try:
        principal, _ = await _signed_in_post(request)
        cid = _conversation_id(conversation_id)
        try:
            await _ctx(request).service.resolve(
                conversation_id=cid, staff_id=principal.id, may_take_over=principal.is_admin
            )
        except store.TransitionRefused as exc:
            raise _transition_refused(exc) from exc
    except Refusal as refusal:
        return _refused(request, refusal, principal)
    return _done(request, cid, {"controls": await _controls_json(_ctx(request), principal, cid)})


# -- admin: staff accounts and the audit log ---------------------------------------------


async def _admin_page(request: Request) -> Principal | Response:
    principal = await _signed_in_page(request)
    if isinstance(principal, Response):
        return principal
    if not principal.is_admin:
        return _refused(request, Refusal(403, "Only admins can see this page."), principal)
    return principal


@router.get("/staff/admin/staff", response_class=HTMLResponse)
async def staff_list(request: Request) -> Response:
    principal = await _admin_page(request)
    if isinstance(principal, Response):
        return principal
    return await _staff_list(request, principal, 200, error=None, notice=request.query_params.get("done"))


async def _staff_list(
    request: Request, principal: Principal, status: int, *, error: str | None, notice: str | None
) -> Response:
    people = await _ctx(request).db(_people)
    notices = {"created": "Account created.", "updated": "Account updated."}
    return _page(
        request,
        "staff/staff_list.html",
        status,
        principal=principal,
        people=people,
        roles=[r.value for r in StaffRole],
        error=error,
        notice=notices.get(notice or ""),
    )


def _people(session: Any) -> list[dict[str, Any]]:
    return [
        {"id": s.id, "name": s.name, "email": s.email, "role": s.role.value, "active": s.active}
        for s in accounts.list_staff(session)
    ]


async def _admin_post(request: Request) -> tuple[Principal, dict[str, str]]:
    principal, fields = await _signed_in_post(request)
    if not principal.is_admin:
        raise Refusal(403, "Only admins can manage staff accounts.")
    return principal, fields


@router.post("/staff/admin/staff")
async def staff_create(request: Request) -> Response:
    principal: Principal | None = None
    try:
        principal, fields = await _admin_post(request)
        role = _role(fields.get("role", "agent"))
        ctx = _ctx(request)
        await ctx.db(
            accounts.create_staff,
            email=fields.get("email", ""),
            name=fields.get("name", ""),
            role=role,
            password="",
            password_hash=await ctx.hasher.hash_new(fields.get("password", "")),
            actor=principal.actor,
        )
    except HashingBusy:
        return _refused(request, Refusal(503, "The server is busy. Please try again in a few seconds."), principal)
    except (accounts.AccountError, WeakPassword) as exc:
        assert principal is not None
        return await _staff_list(request, principal, 400, error=str(exc), notice=None)
    except Refusal as refusal:
        return _refused(request, refusal, principal)
    return RedirectResponse("/staff/admin/staff?done=created", status_code=303, headers=_headers())


@router.post("/staff/admin/staff/{staff_id}")
async def staff_update(request: Request, staff_id: int) -> Response:
    principal: Principal | None = None
    try:
        principal, fields = await _admin_post(request)
        ctx = _ctx(request)
        new_password = fields.get("password") or None
        updated = await ctx.db(
            accounts.update_staff,
            staff_id=staff_id,
            actor_id=principal.id,
            role=_role(fields["role"]) if fields.get("role") else None,
            active={"true": True, "false": False}.get(fields.get("active", "")),
            password_hash=await ctx.hasher.hash_new(new_password) if new_password else None,
        )
        if updated is None:
            raise Refusal(404, "There is no such staff account.")
    except HashingBusy:
        return _refused(request, Refusal(503, "The server is busy. Please try again in a few seconds."), principal)
    except (accounts.AccountError, WeakPassword) as exc:
        assert principal is not None
        return await _staff_list(request, principal, 400, error=str(exc), notice=None)
    except Refusal as refusal:
        return _refused(request, refusal, principal)
    return RedirectResponse("/staff/admin/staff?done=updated", status_code=303, headers=_headers())


def _role(value: str) -> StaffRole:
    try:
        return StaffRole(value)
    except ValueError as exc:
        raise accounts.AccountError("A role is either agent or admin.") from exc


@router.get("/staff/admin/audit", response_class=HTMLResponse)
async def audit_page(request: Request) -> Response:
    principal = await _admin_page(request)
    if isinstance(principal, Response):
        return principal
    before = request.query_params.get("before")
    before_id = int(before) if before and before.isdigit() else None
    rows, next_id = await _ctx(request).db(console.audit_log, limit=_AUDIT_PAGE, before_id=before_id)
    return _page(request, "staff/audit.html", principal=principal, rows=rows, next_id=next_id)


# -- live updates ------------------------------------------------------------------------


class _Live:
    """One console tab's socket: frames go out in order, by one writer; queue renders coalesce."""

    def __init__(self, websocket: WebSocket) -> None:
        self.websocket = websocket
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=512)
        self.queue_dirty = False
        self.overflow = False

    def push(self, frame: dict[str, Any]) -> None:
        if frame.get("type") == "queue":
            if self.queue_dirty:
                return  # one re-render covers every change so far
            self.queue_dirty = True
        try:
            self.queue.put_nowait(frame)
        except asyncio.QueueFull:
            # A tab that reads nothing: let it go; it reloads what it missed when it reconnects.
            self.overflow = True


def _same_origin(websocket: WebSocket) -> bool:
    origin = websocket.headers.get("origin")
    if origin is None:
        return True  # not a browser; the cookie still has to be valid
    host = websocket.headers.get("host", "")
    parts = urlsplit(origin)
    return parts.netloc == host


@router.websocket("/staff/ws")
async def live(websocket: WebSocket) -> None:
    ctx = _ctx(websocket)
    principal = await ctx.principal(websocket.cookies.get(sessions.COOKIE))
    if principal is None or not _same_origin(websocket):
        # Closing before accepting answers the handshake with HTTP 403.
        await websocket.close(code=CLOSE_FORBIDDEN)
        return
    conversation_id = websocket.query_params.get("conversation")
    if conversation_id is not None and not _CONVERSATION_ID.match(conversation_id):
        await websocket.close(code=CLOSE_FORBIDDEN)
        return
    await websocket.accept()
    connection = _Live(websocket)
    # The queue page follows the queue; a conversation page follows its conversation.
    key = STAFF_QUEUE_KEY if conversation_id is None else staff_conversation_key(conversation_id)
    unsubscribers: list[Callable[[], None]] = [ctx.fanout.subscribe(key, connection.push)]
    cookie = websocket.cookies.get(sessions.COOKIE)
    writer = asyncio.create_task(_write(ctx, principal, connection, conversation_id, cookie))
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                break
            # The console only listens; anything it sends is ignored.
    finally:
        for unsubscribe in unsubscribers:
            unsubscribe()
        writer.cancel()
        await asyncio.gather(writer, return_exceptions=True)


async def _write(
    ctx: StaffContext, principal: Principal, connection: _Live, conversation_id: str | None, cookie: str | None
) -> None:
    websocket = connection.websocket
    recheck = ctx.settings.staff_ws_recheck_seconds
    try:
        while True:
            remaining = principal.session.expires_at - utcnow().timestamp()
            if remaining <= 0:
                await websocket.close(code=CLOSE_SIGNED_OUT)
                return
            try:
                frame = await asyncio.wait_for(connection.queue.get(), timeout=min(remaining, recheck))
            except TimeoutError:
                frame = None
            # Signed out, a new password, or deactivated since the socket opened: the
            # session is checked again before every frame and every few seconds.
            if await ctx.principal(cookie) is None:
                await websocket.close(code=CLOSE_SIGNED_OUT)
                return
            if frame is None:
                continue
            if connection.overflow:
                await websocket.close(code=1013)
                return
            if frame.get("type") == "queue":
                connection.queue_dirty = False
                frame = {"type": "queue", "event": frame.get("event"), "html": await render_queue(ctx)}
            elif frame.get("type") == "state" and conversation_id is not None:
                frame = {"type": "state", "controls": await _controls_json(ctx, principal, conversation_id)}
            if websocket.application_state != WebSocketState.CONNECTED:
                return
            await websocket.send_json(frame)
    except (WebSocketDisconnect, RuntimeError, OSError):
        logger.debug("staff console socket gone while sending")
