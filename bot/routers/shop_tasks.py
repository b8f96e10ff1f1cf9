"""The staff console's task list: customers' requests to the shop, answered by hand,
and the webhooks to the shop that could not be delivered (dead letters)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.routers.staff import (
    Refusal,
    _ctx,
    _headers,
    _page,
    _refused,
    _signed_in_page,
    _signed_in_post,
    _wants_json,
)
from bot.shop.inbox import ShopInbox
from crm.models import ShopRequest, ShopRequestStatus
from crm.services import notices, outbox
from crm.services.shop_requests import RequestClosed, pending_requests

router = APIRouter()
KINDS = {"cancel": "Cancel the order", "change_address": "New delivery address", "return": "Accept a return"}


def _inbox(request: Request) -> ShopInbox:
    return request.state.shop  # type: ignore[no-any-return]


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
async def requests_page(request: Request) -> Response:
    principal = await _signed_in_page(request)
    if isinstance(principal, Response):
        return principal
    view = await _ctx(request).db(task_view)
    if _wants_json(request):
        return JSONResponse(jsonable_encoder(view), headers=_headers())
    return _page(request, "staff/requests.html", principal=principal, view=view,
                 notice=request.query_params.get("done"))


async def _settle(request: Request, reference: str, accepted: bool) -> Response:
    try:
        principal, fields = await _signed_in_post(request)
    except Refusal as refusal:
        return _refused(request, refusal)
    reason = fields.get("reason", "").strip() or None
    try:
        if not accepted and reason is None:
            raise Refusal(422, "Give the customer a reason when you refuse a request.")
        try:
            settled = await _inbox(request).settle(
                reference=reference, accepted=accepted, actor=principal.actor, reason=reason
            )
        except RequestClosed as exc:
            raise Refusal(409, f"Someone already answered this request ({exc}).") from None
        if settled is None:
            raise Refusal(404, "There is no such request.")
    except Refusal as refusal:
        return _refused(request, refusal, principal)
    if _wants_json(request):
        return JSONResponse({"reference": settled.reference, "status": settled.status.value}, headers=_headers())
    return RedirectResponse(f"/staff/requests?done={settled.reference}+{settled.status.value}", status_code=303)


@router.post("/staff/requests/{reference}/accept")
async def accept(request: Request, reference: str) -> Response:
    return await _settle(request, reference, True)


@router.post("/staff/requests/{reference}/refuse")
async def refuse(request: Request, reference: str) -> Response:
    return await _settle(request, reference, False)


@router.post("/staff/outbox/{message_id}/retry")
async def retry_dead_letter(request: Request, message_id: int) -> Response:
    try:
        principal, _ = await _signed_in_post(request)
    except Refusal as refusal:
        return _refused(request, refusal)

    def work(session: Session) -> bool:
        return outbox.retry(session, message_id=message_id, actor=principal.actor) is not None

    if not await _ctx(request).db(work):
        return _refused(request, Refusal(404, "That webhook is not in the dead letters."), principal)
    if _wants_json(request):
        return JSONResponse({"id": message_id, "status": "pending"}, headers=_headers())
    return RedirectResponse("/staff/requests?done=retrying", status_code=303)


@router.post("/staff/notices/{notice_id}/retry")
async def retry_notice(request: Request, notice_id: int) -> Response:
    """An order notice that could not be delivered, sent again (consent and quiet hours still apply)."""
    try:
        principal, _ = await _signed_in_post(request)
    except Refusal as refusal:
        return _refused(request, refusal)

    def work(session: Session) -> bool:
        return notices.retry(session, notice_id=notice_id, actor=principal.actor) is not None

    if not await _ctx(request).db(work):
        return _refused(request, Refusal(404, "That notice is not among the undelivered ones."), principal)
    if _wants_json(request):
        return JSONResponse({"id": notice_id, "status": "pending"}, headers=_headers())
    return RedirectResponse("/staff/requests?done=retrying", status_code=303)
