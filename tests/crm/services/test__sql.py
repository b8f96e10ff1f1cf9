"""crm.services._sql: insert-if-absent, settled by the database on SQLite and PostgreSQL alike."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.models import ShopEvent
from crm.services._sql import insert_if_absent


def test_the_first_insert_wins_and_the_second_changes_nothing(session: Session) -> None:
    first = {"source": "api", "event_key": "evt-1", "topic": "orders/create", "subject": "order:1"}
    insert_if_absent(session, ShopEvent, first, conflict=["source", "event_key"])
    insert_if_absent(session, ShopEvent, {**first, "topic": "orders/updated"}, conflict=["source", "event_key"])
    insert_if_absent(session, ShopEvent, {**first, "source": "shopify"}, conflict=["source", "event_key"])
    rows = session.execute(select(ShopEvent.source, ShopEvent.topic, ShopEvent.outcome).order_by(ShopEvent.id)).all()
    # The model's column defaults still apply (outcome), and no savepoint was needed.
    assert [tuple(r) for r in rows] == [("api", "orders/create", "received"), ("shopify", "orders/create", "received")]
