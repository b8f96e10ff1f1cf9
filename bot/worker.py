"""`python -m bot worker`: delivers the outbox (signed webhooks to the shop), purges old
events, and looks for parcels with no news for days (a "delayed" order notice, which
the gateway then sends).

Everything it does lives in the database, so it survives restarts: a message
in flight when the worker stops is due again when its lease runs out.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
from dataclasses import dataclass
from datetime import timedelta

import httpx
from sqlalchemy.orm import Session, sessionmaker

from bot.settings import GatewaySettings
from bot.shop.signatures import sign
from crm.clock import utcnow
from crm.db import make_engine
from crm.models import OutboxMessage
from crm.services import notices, outbox
from crm.services.shop_sync import purge_events

logger = logging.getLogger(__name__)
SIGNATURE_HEADER = "X-Shop-Assistant-Hmac-Sha256"
EVENT_HEADER = "X-Shop-Assistant-Event-Id"
TOPIC_HEADER = "X-Shop-Assistant-Topic"
PURGE_EVERY = timedelta(hours=1)


def webhook_body(message: OutboxMessage) -> bytes:
    return json.dumps(
        {
            "event_id": message.event_id,
            "topic": message.topic,
            "created_at": message.created_at.isoformat(),
            "data": message.payload,
        },
        separators=(",", ":"),
        sort_keys=True,
    ).encode()


@dataclass
class OutboxWorker:
    sessionmaker: sessionmaker[Session]
    http: httpx.AsyncClient
    url: str
    secret: str
    max_attempts: int = 8
    first_retry: timedelta = outbox.FIRST_RETRY

    async def run_once(self) -> int:
        """Send what is due; returns how many were sent."""
        due = await asyncio.to_thread(self._claim)
        sent = 0
        for message in due:
            error = await self._post(message)
            sent += await asyncio.to_thread(self._record, message.id, error)
        return sent

    async def _post(self, message: OutboxMessage) -> str | None:
        body = webhook_body(message)
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(self.secret, body),
            EVENT_HEADER: message.event_id,
            TOPIC_HEADER: message.topic,
        }
        try:
            response = await self.http.post(self.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return type(exc).__name__
        if 200 <= response.status_code < 300:
            return None
        return f"HTTP {response.status_code}"

    def _claim(self) -> list[OutboxMessage]:
        with self.sessionmaker() as session:
            due = outbox.claim_due(session)
            session.commit()
            return due

    def _record(self, message_id: int, error: str | None) -> int:
        with self.sessionmaker() as session:
            message = session.get(OutboxMessage, message_id)
            if message is None:
                return 0
            if error is None:
                outbox.mark_sent(session, message=message)
            else:
                outbox.mark_failed(
                    session, message=message, error=error, max_attempts=self.max_attempts, first_retry=self.first_retry
                )
                logger.warning(
                    "shop webhook not delivered",
                    extra={"event_id": message.event_id, "attempts": message.attempts, "status": message.status,
                           "error": error},
                )
            session.commit()
            return 1 if error is None else 0


async def serve(settings: GatewaySettings, *, poll_seconds: float = 1.0, stop: asyncio.Event | None = None) -> None:
    stop = stop or asyncio.Event()
    engine = make_engine(settings.database_url)
    db = sessionmaker(engine, expire_on_commit=False)
    loop = asyncio.get_running_loop()
    handled = []
    for signum in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(signum, stop.set)
            handled.append(signum)
        except (NotImplementedError, RuntimeError):
            pass
    # Fail closed: an unsigned request is one the shop cannot tell from a forgery.
    sending = bool(settings.shop_requests_webhook_url and settings.shop_requests_webhook_secret.get_secret_value())
    if not settings.shop_requests_webhook_url:
        logger.warning("SHOP_REQUESTS_WEBHOOK_URL is not set: requests wait in the staff task list only")
    elif not sending:
        logger.error("SHOP_REQUESTS_WEBHOOK_SECRET is not set: requests are not sent until it is")
    last_purge = utcnow() - PURGE_EVERY
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            worker = OutboxWorker(
                sessionmaker=db,
                http=http,
                url=settings.shop_requests_webhook_url,
                secret=settings.shop_requests_webhook_secret.get_secret_value(),
                max_attempts=settings.shop_requests_max_attempts,
            )
            while not stop.is_set():
                if sending:
                    await worker.run_once()
                if utcnow() - last_purge >= PURGE_EVERY:
                    last_purge = utcnow()
                    await asyncio.to_thread(_purge, db)
                    await asyncio.to_thread(_find_stuck, db)
                try:
                    await asyncio.wait_for(stop.wait(), poll_seconds)
                except TimeoutError:
                    pass
    finally:
        for signum in handled:
            loop.remove_signal_handler(signum)
        engine.dispose()


def _purge(db: sessionmaker[Session]) -> None:
    with db() as session:
        removed = purge_events(session) + outbox.purge_sent(session) + notices.purge_settled(session)
        session.commit()
    if removed:
        logger.info("old shop events and delivered webhooks purged", extra={"count": removed})


def _find_stuck(db: sessionmaker[Session]) -> None:
    with db() as session:
        made = notices.enqueue_stuck(session, settings=notices.notification_settings())
        session.commit()
    if made:
        logger.info("delayed parcels found", extra={"count": made})
