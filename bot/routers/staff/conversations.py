"""One conversation in the staff console: its page, its transcript, and assign / reply / resolve."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from bot.persistence import states
from bot.conversations import DeliveryFailed
from bot.deps import Service, Settings, SignedIn, Staff, StaffPost, Viewer
from bot.staff import console
from bot.staff.canned import load_canned
from bot.staff.context import Principal, StaffContext
from bot.staff.controls import controls_for
from bot.staff.pages import Refusal, done, headers, page
from crm.services.audit import audit

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/staff/conversations")

CONVERSATION_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
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


def transition_refused(exc: states.TransitionRefused) -> Refusal:
    status, sentence = REFUSALS.get(exc.reason, (409, "That can't be done right now."))
    return Refusal(status, sentence)


def conversation_id(conversation_id: str) -> str:
    """The path's conversation id, checked after the guards (a bad id is a 404)."""
    if not CONVERSATION_ID.match(conversation_id):
        raise Refusal(404, "That conversation doesn't exist.")
    return conversation_id


ConversationId = Annotated[str, Depends(conversation_id)]


@router.get("/{conversation_id}", response_class=HTMLResponse)
async def conversation_page(request: Request, ctx: Staff, principal: SignedIn, cid: ConversationId) -> Response:
    view = await ctx.db(_view_and_audit, conversation_id=cid, principal=principal)
    if view is None:
        raise Refusal(404, "That conversation doesn't exist.")
    canned = load_canned(ctx.settings.canned_replies_path)
    return page(
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


@router.get("/{conversation_id}/transcript", response_class=HTMLResponse)
async def transcript_fragment(ctx: Staff, _: Viewer, conversation_id: str) -> Response:
    view = None
    if CONVERSATION_ID.match(conversation_id):
        view = await ctx.db(console.conversation_view, conversation_id=conversation_id)
    if view is None:
        return Response(status_code=404, headers=headers())
    html = ctx.templates.get_template("staff/_transcript.html").render(view=view)
    return HTMLResponse(html, headers=headers())


async def controls_json(ctx: StaffContext, principal: Principal, conversation_id: str) -> dict[str, Any]:
    view = await ctx.db(console.conversation_view, conversation_id=conversation_id)
    if view is None:
        return {}
    return controls_for(principal, view.state, view.assignee_id, view.assignee_name).as_json()


def _done(request: Request, cid: str, payload: dict[str, Any]) -> Response:
    return done(request, f"/staff/conversations/{cid}", {"ok": True, **payload})


@router.post("/{conversation_id}/assign")
async def assign(request: Request, ctx: Staff, post: StaffPost, cid: ConversationId) -> Response:
    try:
        await _act(ctx.service.assign, post.principal, cid)
    except DeliveryFailed:
        logger.warning("assignment notice not delivered", extra={"conversation_id": cid})
    return _done(request, cid, {"controls": await controls_json(ctx, post.principal, cid)})


async def _act(action: Callable[..., Awaitable[Any]], principal: Principal, cid: str) -> None:
    """Assign or resolve as this staff member (an admin may take over); a refusal as a page."""
    try:
        await action(conversation_id=cid, staff_id=principal.id, may_take_over=principal.is_admin)
    except states.TransitionRefused as exc:
        raise transition_refused(exc) from exc


@router.post("/{conversation_id}/reply")
async def reply(
    request: Request, settings: Settings, service: Service, post: StaffPost, cid: ConversationId
) -> Response:
    text = post.fields.get("text", "").strip()
    if not text:
        raise Refusal(400, "Type a reply first.")
    if len(text) > settings.max_message_chars:
        raise Refusal(400, f"That reply is {len(text)} characters; the limit is {settings.max_message_chars}.")
    principal = post.principal
    try:
        outbound = await service.staff_reply(
            conversation_id=cid, staff_id=principal.id, staff_name=principal.name, text=text
        )
    except states.TransitionRefused as exc:
        raise transition_refused(exc) from exc
    except DeliveryFailed as exc:
        logger.warning("staff reply stored but not delivered: %s", exc, extra={"conversation_id": cid})
        raise Refusal(
            502,
            "Your reply is saved in the conversation, but the customer's channel didn't accept it just now.",
        ) from exc
    return _done(request, cid, {"message_id": outbound.id})


@router.post("/{conversation_id}/resolve")
async def resolve(request: Request, ctx: Staff, post: StaffPost, cid: ConversationId) -> Response:
    await _act(ctx.service.resolve, post.principal, cid)
    return _done(request, cid, {"controls": await controls_json(ctx, post.principal, cid)})
