"""Admins only: staff accounts (/staff/admin/staff) and the audit log (/staff/admin/audit)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bot.deps import Admin, AdminPost, Staff
from bot.staff import accounts
from bot.staff.audit_log import audit_log
from bot.staff.context import Principal, StaffContext
from bot.staff.hashing import HashingBusy
from bot.staff.pages import Refusal, headers, page
from bot.staff.passwords import WeakPassword
from crm.models import StaffRole

router = APIRouter(prefix="/staff/admin")

_AUDIT_PAGE = 100
_BUSY = "The server is busy. Please try again in a few seconds."


@router.get("/staff", response_class=HTMLResponse)
async def staff_list(request: Request, ctx: Staff, principal: Admin) -> Response:
    return await _staff_list(request, ctx, principal, 200, error=None, notice=request.query_params.get("done"))


async def _staff_list(
    request: Request, ctx: StaffContext, principal: Principal, status: int, *, error: str | None, notice: str | None
) -> Response:
    people = await ctx.db(_people)
    notices = {"created": "Account created.", "updated": "Account updated."}
    return page(
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


@router.post("/staff")
async def staff_create(request: Request, ctx: Staff, post: AdminPost) -> Response:
    fields = post.fields
    try:
        role = _role(fields.get("role", "agent"))
        await ctx.db(
            accounts.create_staff,
            email=fields.get("email", ""),
            name=fields.get("name", ""),
            role=role,
            password="",
            password_hash=await ctx.hasher.hash_new(fields.get("password", "")),
            actor=post.principal.actor,
        )
    except HashingBusy:
        raise Refusal(503, _BUSY) from None
    except (accounts.AccountError, WeakPassword) as exc:
        return await _staff_list(request, ctx, post.principal, 400, error=str(exc), notice=None)
    return RedirectResponse("/staff/admin/staff?done=created", status_code=303, headers=headers())


@router.post("/staff/{staff_id}")
async def staff_update(request: Request, ctx: Staff, post: AdminPost, staff_id: int) -> Response:
    fields = post.fields
    new_password = fields.get("password") or None
    try:
        updated = await ctx.db(
            accounts.update_staff,
            staff_id=staff_id,
            actor_id=post.principal.id,
            role=_role(fields["role"]) if fields.get("role") else None,
            active={"true": True, "false": False}.get(fields.get("active", "")),
            password_hash=await ctx.hasher.hash_new(new_password) if new_password else None,
        )
    except HashingBusy:
        raise Refusal(503, _BUSY) from None
    except (accounts.AccountError, WeakPassword) as exc:
        return await _staff_list(request, ctx, post.principal, 400, error=str(exc), notice=None)
    if updated is None:
        raise Refusal(404, "There is no such staff account.")
    return RedirectResponse("/staff/admin/staff?done=updated", status_code=303, headers=headers())


def _role(value: str) -> StaffRole:
    try:
        return StaffRole(value)
    except ValueError as exc:
        raise accounts.AccountError("A role is either agent or admin.") from exc


@router.get("/audit", response_class=HTMLResponse)
async def audit_page(request: Request, ctx: Staff, principal: Admin) -> Response:
    before = request.query_params.get("before")
    before_id = int(before) if before and before.isdigit() else None
    rows, next_id = await ctx.db(audit_log, limit=_AUDIT_PAGE, before_id=before_id)
    return page(request, "staff/audit.html", principal=principal, rows=rows, next_id=next_id)
