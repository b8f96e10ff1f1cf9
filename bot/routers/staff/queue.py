"""The live queue: the page at /staff and the fragment /staff/queue the console's script reloads."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from bot.deps import SignedIn, Staff, Viewer
from bot.staff import console
from bot.staff.context import StaffContext
from bot.staff.pages import headers, page
from crm.clock import utcnow

router = APIRouter(prefix="/staff")


@router.get("", response_class=HTMLResponse)
async def queue_page(request: Request, ctx: Staff, principal: SignedIn) -> Response:
    view = await ctx.db(console.queue_view, now=utcnow())
    return page(request, "staff/queue.html", principal=principal, view=view)


@router.get("/queue", response_class=HTMLResponse)
async def queue_fragment(ctx: Staff, _: Viewer) -> Response:
    return HTMLResponse(await render_queue(ctx), headers=headers())


async def render_queue(ctx: StaffContext) -> str:
    view = await ctx.db(console.queue_view, now=utcnow())
    return ctx.templates.get_template("staff/_queue.html").render(view=view)
