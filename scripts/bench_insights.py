"""Benchmark: how long the staff insights page takes to build on a big shop's history.

Generates 100,000 conversations with 1,000,000 messages (plus handoffs,
ratings and NPS answers in realistic shares) spread over the last year into a
scratch database, then times the page as the gateway builds it: every SQL
aggregate, the tables, the SVG charts and the HTML. Reported: the default
view (the last 28 days), a quarter, and the whole year, each the median of
five renders after one warm-up.

    .venv/bin/python scripts/bench_insights.py                      # scratch SQLite under var/
    .venv/bin/python scripts/bench_insights.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench

A benchmark, not a test: it prints figures for the README.
"""

from __future__ import annotations

import argparse
import platform
import random
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session, sessionmaker

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.routers.insights import CHANNELS, Filters, _charts  # noqa: E402
from bot.staff.context import make_templates  # noqa: E402
from bot.staff.insights_tables import CHANNEL_NAMES, cell, tables  # noqa: E402
from crm import migrate  # noqa: E402
from crm.db import make_engine  # noqa: E402
from crm.models import Conversation, Feedback, Handoff, Message, StaffUser  # noqa: E402
from crm.services.insights import Scope, Window, insights  # noqa: E402
from crm.settings import PROJECT_ROOT  # noqa: E402
from crm.shop import load_shop_profile  # noqa: E402

INTENTS = [
    "track_order", "delivery_info", "return_policy", "request_refund", "cancel_order", "change_address",
    "opening_hours", "payment_methods", "product_question", "complaint", "request_human", "nlu_fallback",
    "greet", "thank", "goodbye", "affirm", "deny",
]  # fmt: skip
REASONS = ["request_human", "complaint", "fallback", "verification_failed"]
BATCH = 20_000


def generate(db: sessionmaker[Session], *, conversations: int, messages: int, now: datetime) -> None:
    rng = random.Random(13)
    per_conversation = messages // conversations
    with db() as session:
        staff_ids = []
        for n in range(8):
            staff = StaffUser(email=f"bench{n}@example.com", name=f"Agent {n}", password_hash="x")
            session.add(staff)
            session.flush()
            staff_ids.append(staff.id)
        session.commit()
    started = time.perf_counter()
    convs: list[dict] = []
    msgs: list[dict] = []
    handoffs: list[dict] = []
    ratings: list[dict] = []

    def flush() -> None:
        # Conversations first: the others refer to them.
        with db() as session:
            for model, rows in ((Conversation, convs), (Message, msgs), (Handoff, handoffs), (Feedback, ratings)):
                if rows:
                    session.execute(insert(model), rows)
                    rows.clear()
            session.commit()

    for n in range(conversations):
        at = now - timedelta(seconds=rng.randint(0, 365 * 86400))
        cid = f"bench-{n}"
        convs.append({"id": cid, "channel": rng.choice(CHANNELS), "address": "", "state": "bot",
                      "locale": "en", "created_at": at, "updated_at": at})  # fmt: skip
        for k in range(per_conversation):
            customer = k % 2 == 0
            msgs.append({
                "conversation_id": cid, "channel": convs[-1]["channel"], "sender": "customer" if customer else "bot",
                "text": "lorem ipsum", "created_at": at + timedelta(seconds=20 * k),
                "intent": rng.choice(INTENTS) if customer else None,
                "intent_confidence": rng.random() if customer else None,
            })  # fmt: skip
        staff = None
        if rng.random() < 0.25:
            staff = rng.choice(staff_ids)
            taken = at + timedelta(seconds=rng.randint(30, 3600))
            handoffs.append({
                "conversation_id": cid, "reason": rng.choice(REASONS), "priority": 0, "verified": False,
                "slots": {}, "order_numbers": [], "status": "resolved", "created_at": at,
                "assigned_at": taken, "resolved_at": taken + timedelta(seconds=rng.randint(60, 1800)),
                "assigned_to_id": staff, "resolved_by_id": staff,
            })  # fmt: skip
        if rng.random() < 0.35:
            ratings.append({"conversation_id": cid, "kind": "csat", "score": rng.choice([1, 2, 3, 4, 4, 5, 5, 5]),
                            "staff_user_id": staff, "created_at": at + timedelta(minutes=30)})  # fmt: skip
        if rng.random() < 0.05:
            ratings.append({"conversation_id": cid, "kind": "nps", "score": rng.randint(0, 10),
                            "comment": rng.choice([None, "Quick and kind", "Slow delivery"]),
                            "created_at": at + timedelta(minutes=31)})  # fmt: skip
        if len(msgs) >= BATCH:
            flush()
    flush()
    print(f"generated in {time.perf_counter() - started:.0f} s")


def render(db: sessionmaker[Session], filters: Filters, is_open) -> str:  # type: ignore[no-untyped-def]
    templates = make_templates()
    tz = load_shop_profile().opening_hours.tz
    with db() as session:
        data = insights(session, scope=Scope(Window(filters.start, filters.end, tz)), is_open=is_open)
    return templates.get_template("staff/insights.html").render(
        principal={"is_admin": True, "name": "Bench", "role": {"value": "admin"}, "csrf": "x"},
        filters=filters, channels=CHANNELS, channel_names=CHANNEL_NAMES, data=data,
        tables=tables(data), charts=_charts(data), cell=cell,
    )  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=f"sqlite:///{PROJECT_ROOT / 'var' / 'bench_insights.db'}")
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help="reuse the database if it is already filled")
    args = parser.parse_args()

    url = args.database_url
    if url.startswith("sqlite:///") and not args.keep:
        Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)
    migrate.upgrade(url)
    engine = make_engine(url)
    db = sessionmaker(engine, expire_on_commit=False)
    now = datetime.now(UTC)
    with db() as session:
        existing = session.scalar(select(func.count()).select_from(Conversation))
    if not existing:
        generate(db, conversations=args.conversations, messages=args.messages, now=now)
    with db() as session:
        counts = {m.__tablename__: session.scalar(select(func.count()).select_from(m))
                  for m in (Conversation, Message, Handoff, Feedback)}  # fmt: skip
    print(f"{engine.dialect.name}: {counts}")
    print(f"{platform.node()} · {platform.processor() or platform.machine()} · Python {platform.python_version()}")
    shop = load_shop_profile()
    today = now.astimezone(shop.opening_hours.tz).date()
    for label, days in (("last 28 days (default view)", 28), ("last 90 days", 90), ("whole year", 365)):
        filters = Filters(today - timedelta(days=days - 1), today, None)
        render(db, filters, shop.is_open)  # warm-up: caches and the OS page cache
        times = []
        for _ in range(5):
            started = time.perf_counter()
            html = render(db, filters, shop.is_open)
            times.append(time.perf_counter() - started)
        print(f"{label:30s} median {statistics.median(times) * 1000:7.0f} ms  (min {min(times) * 1000:.0f}, "
              f"max {max(times) * 1000:.0f}; {len(html) // 1024} KiB of HTML)")  # fmt: skip
    print(f"run on {date.today().isoformat()}")
    engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
