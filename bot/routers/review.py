"""/staff/review: messages the assistant may have misread, for staff to label in one click.

Each item shows the masked message, why it is here, and the assistant's top
guesses as buttons; "Another request" lists every intent the assistant knows,
and "New kind of request" takes a note (what the bot cannot do yet). Labels go
into the training data with `python -m crm export-training`.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import yaml
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from bot.deps import SignedIn, Staff, StaffPost
from bot.staff.context import Principal
from bot.staff.pages import Refusal, headers, page
from crm.services import review
from crm.services.audit import audit
from crm.settings import PROJECT_ROOT

router = APIRouter()

REASONS = {
    "fallback": "The assistant didn't understand",
    "low_confidence": "The assistant was unsure",
    "before_handoff": "Last words before a handoff",
    "low_rating": "Last words before a low rating",
}
# Not requests a customer makes: never offered as a label.
_INTERNAL = {"nlu_fallback", "handoff_resolved", "resume_conversation"}


@lru_cache(maxsize=1)
def known_intents() -> tuple[str, ...]:
    names: set[str] = set()
    data = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text(encoding="utf-8")) or {}
    for intent in data.get("intents") or []:
        names.add(next(iter(intent)) if isinstance(intent, dict) else str(intent))
    return tuple(sorted(names - _INTERNAL))


def _queue(session: Session) -> dict[str, Any]:
    return {
        "items": review.open_items(session, limit=50),
        "open": review.open_count(session),
        "unmet": review.unmet_requests(session),
    }


@router.get("/staff/review", response_class=HTMLResponse)
async def review_page(request: Request, ctx: Staff, principal: SignedIn) -> Response:
    view = await ctx.db(_queue)
    return page(
        request, "staff/review.html", principal=principal, view=view, intents=known_intents(),
        reasons=REASONS, new_request=review.NEW_REQUEST, done=request.query_params.get("done") == "1",
    )  # fmt: skip


def _label(session: Session, *, item_id: int, intent: str, note: str | None, principal: Principal) -> bool:
    item = review.review(session, item_id=item_id, intent=intent, staff_id=principal.id, note=note)
    if item is None:
        return False
    audit(session, actor=principal.actor, action="review.label", subject=f"review:{item_id}",
          detail={"intent": intent})  # fmt: skip
    return True


@router.post("/staff/review/{item_id}")
async def label(ctx: Staff, post: StaffPost, item_id: int) -> Response:
    intent = post.fields.get("intent", "").strip()
    note = post.fields.get("note", "").strip() or None
    if intent == review.NEW_REQUEST:
        if not note:
            raise Refusal(400, "Say in a few words what the customer wanted, so it can be counted.")
    elif intent not in known_intents():
        raise Refusal(400, "Pick one of the requests the assistant knows, or “New kind of request”.")
    found = await ctx.db(_label, item_id=item_id, intent=intent, note=note, principal=post.principal)
    if not found:
        raise Refusal(404, "That message is no longer in the review queue.")
    return RedirectResponse("/staff/review?done=1", status_code=303, headers=headers())
