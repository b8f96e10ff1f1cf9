"""The shop's JSON API: order and customer updates, and answers to customer requests.

Authenticated with `Authorization: Bearer <key>` (keys from `python -m bot keys add`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from bot import unit_of_work
from bot.shop.api_models import CustomerIn, OrderIn, SettleIn
from bot.routers.shop_webhooks import WEBHOOK_MAX_BODY
from bot.shop.inbox import ShopInbox
from crm.normalize import normalize_order_number
from crm.services.api_keys import find_api_key
from crm.services.shop_requests import RequestClosed
from crm.services.shop_sync import IncomingEvent, UpdateRefused

router = APIRouter(prefix="/api/v1", tags=["shop api"])
_ANSWERS = {"erased": 409, "unknown_order": 404}


def _inbox(request: Request) -> ShopInbox:
    return request.state.shop  # type: ignore[no-any-return]


async def api_key(request: Request) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise HTTPException(401, "an API key is needed: Authorization: Bearer <key>", {"WWW-Authenticate": "Bearer"})
    actor = await unit_of_work.run_in_thread(_inbox(request).sessionmaker, _actor, key=key.strip())
    if actor is None:
        raise HTTPException(401, "unknown or revoked API key", {"WWW-Authenticate": "Bearer"})
    return actor


def _actor(session: Session, *, key: str) -> str | None:
    row = find_api_key(session, key=key)
    return None if row is None else f"api:{row.id}"


Caller = Annotated[str, Depends(api_key)]


def _answer(outcome: str, subject: str) -> JSONResponse:
    status = _ANSWERS.get(outcome, 200)
    body: dict[str, str] = {"outcome": outcome, "subject": subject}
    if outcome == "erased":
        body["detail"] = "this customer was erased at their request; their data is not taken back"
    elif outcome == "unknown_order":
        body["detail"] = "no such order yet: send it with customer, placed_at and total first"
    return JSONResponse(body, status_code=status)


@router.put("/orders/{number}", max_body_size=WEBHOOK_MAX_BODY)
async def put_order(number: str, body: OrderIn, request: Request, caller: Caller) -> JSONResponse:
    normalized = normalize_order_number(number)
    if normalized is None:
        raise HTTPException(422, f"{number[:40]!r} is not an order number")
    key = f"order:{normalized}:{body.updated_at.isoformat()}"
    event = IncomingEvent("api", key, "order.put", body.model_dump(mode="json"))
    try:
        result = await _inbox(request).receive(event, body.update(normalized))
    except UpdateRefused as exc:
        raise HTTPException(422, str(exc)) from None
    return _answer(result.outcome, result.subject)


@router.put("/customers/{customer_id}")
async def put_customer(customer_id: str, body: CustomerIn, request: Request, caller: Caller) -> JSONResponse:
    customer_id = customer_id.strip()
    if not customer_id or len(customer_id) > 64:
        raise HTTPException(422, "the customer id must be 1-64 characters")
    key = f"customer:{customer_id}:{body.updated_at.isoformat()}"
    event = IncomingEvent("api", key, "customer.put", body.model_dump(mode="json"))
    result = await _inbox(request).receive(event, body.update(customer_id))
    return _answer(result.outcome, result.subject)


@router.post("/requests/{reference}")
async def settle_request(reference: str, body: SettleIn, request: Request, caller: Caller) -> JSONResponse:
    try:
        settled = await _inbox(request).settle(
            reference=reference, accepted=body.status == "accepted", actor=caller, reason=body.reason
        )
    except RequestClosed as exc:
        raise HTTPException(409, str(exc)) from None
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    if settled is None:
        raise HTTPException(404, f"no request {reference[:40]!r}")
    return JSONResponse({"reference": settled.reference, "status": settled.status.value})
