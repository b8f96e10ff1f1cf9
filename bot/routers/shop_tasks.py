"""The staff console's task list: customers' requests to the shop, answered by hand,
and the webhooks to the shop that could not be delivered (dead letters)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.deps import Inbox, Post, SignedIn, Staff, StaffPost
from bot.shop.inbox import ShopInbox
from bot.staff.pages import Refusal, done, headers, page, wants_json
from crm.models import ShopRequest, ShopRequestStatus
from crm.services import notices, outbox
from crm.services.shop_requests import RequestClosed, pending_requests

router = APIRouter()
KINDS = {"cancel": "Cancel the order", "change_address": "New delivery address", "return": "Accept a return"}


def _row(item: ShopRequest) -> dict[str, Any]:
    customer = item.order.customer
    return {
        "reference": item.reference,
        "kind": KINDS.get(item.kind.value, item.kind.value),
        "order": item.order.number,
        "order_status": item.order.status.value,
        "customer": f"{customer.first_name} {customer.last_name}".strip(),
        "address": item.detail.get("address"),
        "return_reference": item.detail.get("return_reference"),
        "status": item.status.value,
        "reason": item.reason,
        "created_at": item.created_at,
    }


def task_view(session: Session) -> dict[str, Any]:
    settled = session.scalars(
        select(ShopRequest)
        .where(ShopRequest.status != ShopRequestStatus.requested)
        .order_by(ShopRequest.settled_at.desc(), ShopRequest.id.desc())
        .limit(20)
    ).all()
    dead = [
        {"id": m.id, "topic": m.topic, "reference": m.payload.get("reference"), "attempts": m.attempts,
         "error": m.last_error, "created_at": m.created_at}
        for m in outbox.dead_letters(session)
    ]
    undelivered = [
        {"id": n.id, "kind": n.kind, "order": n.order.number if n.order else None,
         "customer": n.customer.external_id, "channel": n.channel, "attempts": n.attempts, "error": n.reason,
         "created_at": n.created_at}
        for n in notices.undeliverable(session)
    ]
    return {
        "pending": [_row(r) for r in pending_requests(session)],
        "settled": [_row(r) for r in settled],
        "dead": dead,
        "dead_notices": undelivered,
    }


@router.get("/staff/requests", response_class=HTMLResponse)
async def requests_page(request: Request, ctx: Staff, principal: SignedIn) -> Response:
    view = await ctx.db(task_view)
    if wants_json(request):
        return JSONResponse(jsonable_encoder(view), headers=headers())
    return page(request, "staff/requests.html", principal=principal, view=view,
                notice=request.query_params.get("done"))  # fmt: skip


@router.post("/staff/requests/{reference}/accept")
async def accept(request: Request, inbox: Inbox, post: StaffPost, reference: str) -> Response:
    return await _settle(request, inbox, post, reference, accepted=True)


@router.post("/staff/requests/{reference}/refuse")
async def refuse(request: Request, inbox: Inbox, post: StaffPost, reference: str) -> Response:
    return await _settle(request, inbox, post, reference, accepted=False)


async def _settle(request: Request, inbox: ShopInbox, post: Post, reference: str, *, accepted: bool) -> Response:
    """Accept or refuse a customer's request; a refusal gives the customer a reason."""
    reason = post.fields.get("reason", "").strip() or None
    if not accepted and reason is None:
        raise Refusal(422, "Give the customer a reason when you refuse a request.")
    try:
        settled = await inbox.settle(
            reference=reference, accepted=accepted, actor=post.principal.actor, reason=reason
        )
    except RequestClosed as exc:
        raise Refusal(409, f"Someone already answered this request ({exc}).") from None
    if settled is None:
        raise Refusal(404, "There is no such request.")
    status = settled.status.value
    payload = {"reference": settled.reference, "status": status}
    return done(request, f"/staff/requests?done={settled.reference}+{status}", payload)


@router.post("/staff/outbox/{message_id}/retry")
async def retry_dead_letter(request: Request, ctx: Staff, post: StaffPost, message_id: int) -> Response:
    """A webhook to the shop that went to the dead letters, sent again."""
    if await ctx.db(outbox.retry, message_id=message_id, actor=post.principal.actor) is None:
        raise Refusal(404, "That webhook is not in the dead letters.")
    return done(request, "/staff/requests?done=retrying", {"id": message_id, "status": "pending"})


@router.post("/staff/notices/{notice_id}/retry")
async def retry_notice(request: Request, ctx: Staff, post: StaffPost, notice_id: int) -> Response:
    """An order notice that could not be delivered, sent again (consent and quiet hours still apply)."""
    if await ctx.db(notices.retry, notice_id=notice_id, actor=post.principal.actor) is None:
        raise Refusal(404, "That notice is not among the undelivered ones.")
    return done(request, "/staff/requests?done=retrying", {"id": notice_id, "status": "pending"})
