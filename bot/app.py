"""The gateway app factory: `uvicorn bot.app:create_app --factory` or `python -m bot serve`.

Nothing happens at import. `create_app` wires routes; the lifespan builds the
engine, the HTTP client for Rasa, the conversation service and the channels,
and takes them down again in reverse.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy.orm import Session, sessionmaker

from bot.channels import sms, telegram, widget
from bot.conversations import ConversationService
from bot.core.db import OneWriter
from bot.fanout import LocalFanout, RedisFanout
from bot.handoff import StaffAlerts, TelegramStaffAlerts
from bot.intake.door import Intake
from bot.locks import LocalTurnGuard, RedisTurnGuard, TurnGuard
from bot.logs import configure_logging
from bot.metrics import Metrics
from bot import notices
from bot.notices import NoticeSender
from bot.middleware import RequestContextMiddleware
from bot.rasa import RasaClient
from bot.identity import IdentityPolicy
from bot.recovery import TurnPolicy
from bot.rasa_pool import RasaPool
from bot.ratelimit import RateLimiter
from bot.routers import health
from bot.routers import insights as insights_router
from bot.routers import review as review_router
from bot.routers import metrics as metrics_router
from bot.routers import shop_api, shop_tasks, shop_webhooks
from bot.routers import sms as sms_router
from bot.routers.staff import admin as staff_admin
from bot.routers.staff import auth as staff_auth
from bot.routers.staff import conversations as staff_conversations
from bot.routers.staff import live as staff_live
from bot.routers.staff import queue as staff_queue
from bot.routers import telegram as telegram_router
from bot.settings import GatewaySettings, get_settings
from bot.settings_parts import SmsSettings, TelegramSettings
from bot.shop.inbox import ShopInbox
from bot.staff import pages as staff_pages
from bot.staff.context import StaffContext, make_signer, make_templates
from bot.staff.signin_guard import KnownAddresses, SignInGuard
from bot.state import GatewayState
from crm.db import make_engine

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
# How long shutdown waits for messages in progress (a Rasa turn plus storing).
_DRAIN_MARGIN_SECONDS = 2.0


def create_app(
    settings: GatewaySettings | None = None,
    *,
    http_transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    """The gateway. `http_transport` lets tests put a stand-in where Rasa would be."""
    settings = settings or get_settings()
    configure_logging(settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        async with AsyncExitStack() as stack:
            yield await _start(app, settings, http_transport, stack)

    development = settings.environment == "development"
    app = FastAPI(
        title="Shop assistant gateway",
        lifespan=lifespan,
        max_body_size=settings.max_body_bytes,
        docs_url="/docs" if development else None,
        redoc_url=None,
        openapi_url="/openapi.json" if development else None,
    )
    app.add_middleware(RequestContextMiddleware)
    app.include_router(health.router)
    app.include_router(metrics_router.router)
    app.include_router(widget.router)
    for staff_router in (staff_auth, staff_queue, staff_conversations, staff_admin, staff_live):
        app.include_router(staff_router.router)
    staff_pages.install(app)
    app.include_router(shop_webhooks.router)
    app.include_router(shop_api.router)
    app.include_router(shop_tasks.router)
    app.include_router(insights_router.router)
    app.include_router(review_router.router)
    if settings.sms_enabled:
        app.include_router(sms_router.router)
    if settings.telegram_enabled:
        app.include_router(telegram_router.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    if settings.demo_mode:
        from bot.routers import demo

        app.include_router(demo.router)
    return app


async def _start(
    app: FastAPI, settings: GatewaySettings, transport: httpx.AsyncBaseTransport | None, stack: AsyncExitStack
) -> dict[str, Any]:
    metrics = Metrics()
    engine = make_engine(settings.database_url, busy_timeout=settings.database_busy_timeout_seconds)
    stack.callback(engine.dispose)
    # The one sessionmaker of the gateway: every service and channel is handed this one.
    db = sessionmaker(engine, expire_on_commit=False)
    app.state.sessionmaker = db
    # Health checks and history never wait for a connection a blocked write holds.
    reads = make_engine(settings.database_url, busy_timeout=settings.health_timeout_seconds)
    stack.callback(reads.dispose)
    # A turn's bookkeeping (marks, replies, delivery marks) does not wait for the disk at each
    # commit; the customer's message does (bot/core/db.py, crm/db.py).
    notes = make_engine(
        settings.database_url, busy_timeout=settings.database_busy_timeout_seconds, durable=False
    )
    stack.callback(notes.dispose)
    http = await stack.enter_async_context(
        httpx.AsyncClient(
            transport=transport,
            timeout=settings.rasa_timeout_seconds,
            # Every gateway worker talks to one Rasa; keep a few warm connections.
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
        )
    )
    fanout: LocalFanout
    guard: TurnGuard
    if settings.redis_url:
        import redis.asyncio as redis

        client = redis.from_url(settings.redis_url)
        stack.push_async_callback(client.aclose)
        fanout = RedisFanout(client)
        guard = RedisTurnGuard(
            client,
            lease_seconds=settings.rasa_timeout_seconds + 30,
            wait_seconds=settings.rasa_timeout_seconds + 10,
        )
    else:
        fanout = LocalFanout()
        guard = LocalTurnGuard()
    await fanout.start()
    stack.push_async_callback(fanout.aclose)
    service = ConversationService(
        sessionmaker=db,
        rasa=_rasa_client(http, settings),
        metrics=metrics,
        guard=guard,
        history_limit=settings.history_limit,
        events=fanout,
        alerts=await _staff_alerts(settings.telegram, stack),
        default_wait=timedelta(minutes=settings.handoff_default_wait_minutes),
        console_url=settings.public_base_url or None,
        review_threshold=settings.review_confidence_threshold,
        reads=sessionmaker(reads, expire_on_commit=False),
        notes=sessionmaker(notes, expire_on_commit=False),
        # SQLite: the gateway's writes take turns here instead of polling the file lock (bot/core/db.py).
        writer=OneWriter(settings.database_busy_timeout_seconds) if engine.dialect.name == "sqlite" else None,
        turn_policy=TurnPolicy(
            lease=timedelta(seconds=settings.turn_lease_seconds),
            interval_seconds=settings.turn_recovery_interval_seconds,
            resume_max_age=timedelta(seconds=settings.turn_resume_max_age_seconds),
        ),
    )
    # Runs first on the way out: messages in progress finish while Rasa and the DB are still there.
    stack.push_async_callback(service.aclose, timeout=settings.rasa_timeout_seconds + _DRAIN_MARGIN_SECONDS)
    intake = Intake(service=service, sessionmaker=db)
    web = widget.WidgetChannel(
        intake=intake,
        fanout=fanout,
        metrics=metrics,
        limits=widget.WidgetLimits(
            max_message_chars=settings.widget.max_message_chars, max_frame_bytes=settings.widget.max_frame_bytes
        ),
        identity=IdentityPolicy.from_settings(settings),
        session_idle=timedelta(days=settings.widget.session_idle_days),
        session_limiter=RateLimiter(
            per_minute=settings.rate_limit_session_per_minute, burst=settings.rate_limit_session_burst
        ),
        ip_limiter=RateLimiter(
            per_minute=settings.rate_limit_ip_per_minute, burst=settings.rate_limit_ip_burst
        ),
        connect_limiter=RateLimiter(
            per_minute=settings.rate_limit_connect_per_minute, burst=settings.rate_limit_connect_burst
        ),
    )
    service.register_channel(web)
    texts: sms.SmsChannel | None = None
    if settings.sms.enabled:
        texts = _sms_channel(settings.sms, intake=intake, metrics=metrics)
        service.register_channel(texts)
    # Registers itself and, in polling mode, starts polling; stops before the service drains.
    chats = await telegram.open_channel(
        settings.telegram,
        intake=intake,
        metrics=metrics,
        chat_limiter=RateLimiter(
            per_minute=settings.rate_limit_session_per_minute, burst=settings.rate_limit_session_burst
        ),
        stack=stack,
        drain_seconds=settings.rasa_timeout_seconds + _DRAIN_MARGIN_SECONDS,
    )
    if not settings.widget_identity_secret.get_secret_value():
        logger.warning("WIDGET_IDENTITY_SECRET is not set: no widget visitor can be verified")
    logger.info(
        "gateway started",
        extra={
            "environment": settings.environment,
            "redis": bool(settings.redis_url),
            "demo": settings.demo_mode,
        },
    )
    staff = StaffContext(
        settings=settings,
        service=service,
        sessionmaker=db,
        fanout=fanout,
        signer=make_signer(settings),
        sign_in_guard=SignInGuard(
            pair_limiter=RateLimiter(
                per_minute=settings.rate_limit_sign_in_per_minute, burst=settings.rate_limit_sign_in_burst
            ),
            ip_limiter=RateLimiter(
                per_minute=settings.rate_limit_sign_in_ip_per_minute, burst=settings.rate_limit_sign_in_ip_burst
            ),
            known=KnownAddresses(ttl_seconds=settings.staff_known_address_days * 86_400),
        ),
        templates=make_templates(),
    )
    stack.callback(staff.hasher.close)
    if staff.signer is None:
        logger.warning("STAFF_SESSION_SECRET is not set: the staff console at /staff is closed")
    # Every channel is registered: turns a crash or deploy left open can be finished now.
    service.turns.start()
    state = GatewayState(settings=settings, metrics=metrics, http=http, service=service)
    shop = ShopInbox(sessionmaker=db, service=service)
    if settings.notices_enabled:
        _start_notices(settings, stack, NoticeSender(
            sessionmaker=db,
            service=service,
            metrics=metrics,
            channels=service.channel_names,
            max_attempts=settings.notices_max_attempts,
        ))
    return {"gateway": state, "staff": staff, "widget": web, "sms": texts, "telegram": chats, "shop": shop}


def _sms_channel(
    part: SmsSettings, *, intake: Intake, metrics: Metrics
) -> sms.SmsChannel:
    """The SMS channel, given only the SMS part of the settings."""
    auth_token = part.auth_token.get_secret_value()
    return sms.SmsChannel(
        intake=intake,
        metrics=metrics,
        client=sms.make_twilio_client(
            account_sid=part.account_sid, auth_token=auth_token, api_base_url=part.api_base_url
        ),
        from_number=part.from_number,
        auth_token=auth_token,
        webhook_url=part.public_base_url + sms_router.WEBHOOK_PATH,
    )


def _start_notices(settings: GatewaySettings, stack: AsyncExitStack, sender: NoticeSender) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(notices.serve(sender, poll_seconds=settings.notices_poll_seconds, stop=stop))

    async def _stop() -> None:
        stop.set()
        await task

    # Stops before the conversation service drains: no notice starts on a closing gateway.
    stack.push_async_callback(_stop)


async def _staff_alerts(part: TelegramSettings, stack: AsyncExitStack) -> StaffAlerts | None:
    """A Telegram message to the staff chat for each new handoff, when one is configured."""
    chat_id = part.staff_chat_id.strip()
    if not chat_id:
        return None
    token = part.bot_token.get_secret_value().strip()
    if not token:
        logger.warning("STAFF_TELEGRAM_CHAT_ID is set but TELEGRAM_BOT_TOKEN is not: no Telegram alerts")
        return None
    alerts = TelegramStaffAlerts(token=token, chat_id=chat_id, api_base_url=part.api_base_url)
    stack.push_async_callback(alerts.aclose)
    return alerts


def _rasa_client(http: httpx.AsyncClient, settings: GatewaySettings) -> RasaClient | RasaPool:
    clients = [
        RasaClient(
            http,
            base_url=url,
            token=settings.rasa_token.get_secret_value(),
            timeout_seconds=settings.rasa_timeout_seconds,
            max_in_flight=settings.rasa_max_in_flight,
        )
        for url in settings.rasa_servers
    ]
    return clients[0] if len(clients) == 1 else RasaPool(clients)
