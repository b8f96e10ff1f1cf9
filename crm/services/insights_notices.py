"""Order notices for the insights page: what became of the messages the shop sent first.

A notice counts on the local day its order changed (`created_at`), with
everything that later happened to it: a notice deferred by quiet hours at
22:30 and sent at 08:00 the next morning is one notice, deferred and sent, on
the first day. That keeps each notice in exactly one row however the range is
cut. Only sent notices have a channel (a suppressed, waiting or dead one never
reached a customer), so a channel filter shows the notices sent on it.
Admins only: notices belong to the shop, not to an agent's conversations.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from crm.models import Notice, NoticeStatus
from crm.services.insights_sql import Scope, local_hour, utc_hour

# The reasons bot/notices.py writes when it suppresses a notice, as the page names them.
SUPPRESSED = {
    "no_consent": "No consent",
    "cap": "Daily cap",
    "merged": "Merged",
    "no_channel": "No channel",
}
OTHER = "other"  # e.g. "order_gone": the order was deleted before the notice went out
COUNTS = ("notices", "sent", "deferred", *SUPPRESSED, OTHER, "dead", "waiting", "replied")


def notice_summary(session: Session, *, scope: Scope) -> dict[str, Any]:
    """Per local day and channel (None: never sent), and totals, of the notices made in the window.

    Returns {"rows": [{"day", "channel", <COUNTS>...}], "totals": {<COUNTS>...}};
    rows only for days and channels with notices, ordered by day then channel.
    """
    w = scope.window
    bucket = utc_hour(session, Notice.created_at)
    # Failed attempts also write `reason` (an HTTP error); only a suppression's reason is an outcome.
    reason = case((Notice.status == NoticeStatus.suppressed, Notice.reason), else_=None)
    query = (
        select(
            bucket,
            Notice.channel,
            Notice.status,
            reason,
            func.count(),
            func.sum(case((Notice.deferred.is_(True), 1), else_=0)),
            func.sum(case((Notice.replied_at.is_not(None), 1), else_=0)),
        )
        .where(Notice.created_at >= w.since, Notice.created_at < w.until)
        .group_by(bucket, Notice.channel, Notice.status, reason)
    )
    if scope.channel:
        query = query.where(Notice.channel == scope.channel)
    cells: dict[tuple[date, str | None], dict[str, int]] = defaultdict(lambda: dict.fromkeys(COUNTS, 0))
    for hour, channel, status, why, n, deferred, replied in session.execute(query):
        counts = cells[(local_hour(hour, w.tz).date(), channel)]
        counts["notices"] += n
        counts["deferred"] += int(deferred or 0)
        counts["replied"] += int(replied or 0)
        status = NoticeStatus(status)
        if status == NoticeStatus.sent:
            counts["sent"] += n
        elif status == NoticeStatus.suppressed:
            counts[why if why in SUPPRESSED else OTHER] += n
        elif status == NoticeStatus.dead:
            counts["dead"] += n
        else:
            counts["waiting"] += n
    rows = [
        {"day": day, "channel": channel, **counts}
        for (day, channel), counts in sorted(cells.items(), key=lambda kv: (kv[0][0], kv[0][1] or "~"))
    ]
    totals = {key: sum(r[key] for r in rows) for key in COUNTS}
    return {"rows": rows, "totals": totals}
