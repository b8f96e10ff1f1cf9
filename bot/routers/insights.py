"""/staff/insights: what the owner learns from the conversations, with each table as CSV.

Admins see the whole shop; an agent sees the conversations they took or
resolved. Filters are plain GET parameters (start, end, channel) so a view
can be bookmarked and shared; a bad filter is a 400 with a sentence, not a
page of wrong numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from bot.deps import SignedIn, Staff
from bot.staff import charts
from bot.staff.context import Principal, shop_timezone
from bot.staff.insights_tables import CHANNEL_NAMES, Table, cell, tables, to_csv
from bot.staff.pages import Refusal, headers, page
from crm.services import review
from crm.services.insights import Insights, Scope, Window, insights
from crm.services.insights_notices import OTHER, SUPPRESSED, notice_summary
from crm.shop import ShopProfileError, load_shop_profile

router = APIRouter()

CHANNELS = ("web", "telegram", "sms")
DEFAULT_DAYS = 28
MAX_DAYS = 366


@dataclass(frozen=True)
class Filters:
    start: date
    end: date
    channel: str | None

    def query(self) -> str:
        q = f"start={self.start.isoformat()}&end={self.end.isoformat()}"
        return q + (f"&channel={self.channel}" if self.channel else "")


def _day(value: str, what: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise Refusal(400, f"The {what} date should look like 2026-11-30.") from exc


def read_filters(params: Any, today: date) -> Filters:
    end = _day(params["end"], "end") if params.get("end") else today
    start = _day(params["start"], "start") if params.get("start") else end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise Refusal(400, "The start date is after the end date.")
    if (end - start).days + 1 > MAX_DAYS:
        raise Refusal(400, f"Pick at most {MAX_DAYS} days at a time.")
    channel = params.get("channel") or None
    if channel is not None and channel not in CHANNELS:
        raise Refusal(400, "There is no such channel: pick web, telegram or sms.")
    return Filters(start, end, channel)


def _is_open() -> Any:
    try:
        return load_shop_profile().is_open
    except ShopProfileError:
        return None


def _scope(principal: Principal, filters: Filters) -> Scope:
    return Scope(
        Window(filters.start, filters.end, shop_timezone()),
        channel=filters.channel,
        staff_id=None if principal.is_admin else principal.id,
    )


async def _load(request: Request, ctx: Staff, principal: SignedIn) -> tuple[Principal, Filters, Insights]:
    filters = read_filters(request.query_params, datetime.now(shop_timezone()).date())
    data = await ctx.db(insights, scope=_scope(principal, filters), is_open=_is_open())
    if principal.is_admin:
        # What the improvement loop achieved, and what customers want that the bot can't do yet.
        data.extra.update(await ctx.db(_loop))
        # Notices belong to the shop, not to an agent's conversations.
        data.extra["notices"] = await ctx.db(notice_summary, scope=data.scope)
    return principal, filters, data


Loaded = Annotated[tuple[Principal, Filters, Insights], Depends(_load)]


def _loop(session: Any) -> dict[str, Any]:
    return {
        "retraining": review.fallback_before_after(session, now=datetime.now(UTC)),
        "unmet": review.unmet_requests(session),
    }


@router.get("/staff/insights", response_class=HTMLResponse)
async def insights_page(request: Request, loaded: Loaded) -> Response:
    principal, filters, data = loaded
    found = tables(data)
    if request.query_params.get("format") == "csv":
        return _csv(found, request.query_params.get("table", "conversations"), filters)
    return page(
        request,
        "staff/insights.html",
        principal=principal,
        filters=filters,
        channels=CHANNELS,
        channel_names=CHANNEL_NAMES,
        data=data,
        tables=found,
        charts=_charts(data),
        cell=cell,
    )


@router.get("/staff/insights/{name}.csv")
async def insights_csv(loaded: Loaded, name: str) -> Response:
    _, filters, data = loaded
    return _csv(tables(data), name, filters)


def _csv(found: dict[str, Table], name: str, filters: Filters) -> Response:
    table = found.get(name)
    if table is None:
        return Response(
            f"There is no table called {name!r}; pick one of: {', '.join(found)}.\n",
            status_code=404,
            media_type="text/plain; charset=utf-8",
            headers=headers(),
        )
    filename = f"{name}_{filters.start.isoformat()}_{filters.end.isoformat()}.csv"
    return Response(
        to_csv(table),
        media_type="text/csv; charset=utf-8",
        headers={**headers(), "Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _charts(data: Insights) -> dict[str, Any]:
    days = [r["day"].strftime("%d %b") for r in data.per_day]
    hours = [f"{h:02d}" for h in range(24)]
    found = {"notices": _notices_chart(data)} if "notices" in data.extra else {}
    return found | {
        "conversations": charts.stacked_bars(
            "chart-conversations",
            title="Conversations per day",
            desc=f"{data.conversations} conversations from {days[0]} to {days[-1]}, by channel; "
            "the table below has every number.",
            labels=days,
            series=[
                charts.Series(CHANNEL_NAMES.get(c, c), [r[c] for r in data.per_day], f"s{i % 4 + 1}")
                for i, c in enumerate(data.channels)
            ],
        ),
        "waits": charts.lines(
            "chart-waits",
            title="Wait for a person by hour of day, in minutes",
            desc="Median and 90th percentile wait in minutes for handoffs made at each hour; "
            "the table below has every number.",
            labels=hours,
            series=[
                charts.Series("Median", [_min(r["wait_median"]) for r in data.by_hour], "s1"),
                charts.Series("90th percentile", [_min(r["wait_p90"]) for r in data.by_hour], "s3"),
            ],
            unit="m",
        ),
        "requests": charts.hbars(
            "chart-requests",
            title="Top requests",
            desc="Customer messages per request in this period; the table below has every number.",
            rows=[(r["intent"].replace("_", " "), r["count"]) for r in data.requests[:10]],
        ),
    }


def _notices_chart(data: Insights) -> Any:
    per_day = {day: [0, 0, 0] for day in data.scope.window.days}
    for r in data.extra["notices"]["rows"]:
        suppressed = sum(r[k] for k in (*SUPPRESSED, OTHER))
        day = per_day[r["day"]]
        day[0], day[1], day[2] = day[0] + r["sent"], day[1] + suppressed, day[2] + r["dead"]
    totals = data.extra["notices"]["totals"]
    return charts.stacked_bars(
        "chart-notices",
        title="Order notices per day",
        desc=f"{totals['sent']} order notices sent, {totals['notices'] - totals['sent']} not sent, "
        "per day; the table below has every number.",
        labels=[d.strftime("%d %b") for d in per_day],
        series=[
            charts.Series(name, [v[i] for v in per_day.values()], css)
            for i, (name, css) in enumerate((("Sent", "s1"), ("Suppressed", "s2"), ("Failed", "s3")))
        ],
    )


def _min(seconds: float | None) -> float | None:
    return None if seconds is None else seconds / 60
