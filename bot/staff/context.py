"""What the staff console needs at run time, built once in the app's lifespan."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any, TypeVar

import jinja2
from sqlalchemy.orm import Session, sessionmaker

from bot import unit_of_work
from bot.conversations import ConversationService
from bot.fanout import LocalFanout
from bot.settings import GatewaySettings
from bot.staff import sessions
from bot.staff.hashing import PasswordHasherPool
from bot.staff.signin_guard import SignInGuard
from crm.models import StaffRole, StaffUser
from crm.shop import ShopProfileError, load_shop_profile

T = TypeVar("T")
TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


@dataclass(frozen=True)
class Principal:
    """The signed-in staff member behind a request."""

    id: int
    name: str
    email: str
    role: StaffRole
    session: sessions.StaffSession
    csrf: str

    @property
    def is_admin(self) -> bool:
        return self.role == StaffRole.admin

    @property
    def actor(self) -> str:
        return f"staff:{self.id}"


@dataclass
class StaffContext:
    settings: GatewaySettings
    service: ConversationService
    sessionmaker: sessionmaker[Session]
    fanout: LocalFanout
    # None: the console is closed (production without STAFF_SESSION_SECRET).
    signer: sessions.SessionSigner | None
    sign_in_guard: SignInGuard
    templates: jinja2.Environment
    # Argon2 away from the default pool the chats' database work uses.
    hasher: PasswordHasherPool = field(default_factory=PasswordHasherPool)

    async def db(self, fn: Callable[..., T], /, **kwargs: Any) -> T:
        return await unit_of_work.run_in_thread(self.sessionmaker, fn, **kwargs)

    async def principal(self, cookie: str | None) -> Principal | None:
        if self.signer is None:
            return None
        signed = self.signer.read(cookie)
        if signed is None:
            return None
        return await self.db(_load_principal, signed=signed, csrf=self.signer.csrf_token(signed))


def _load_principal(session: Session, *, signed: sessions.StaffSession, csrf: str) -> Principal | None:
    staff = session.get(StaffUser, signed.staff_id)
    if staff is None or not staff.active:
        return None
    if sessions.password_fingerprint(staff.password_hash) != signed.password_fingerprint:
        return None  # the password changed since this session began
    return Principal(
        id=staff.id, name=staff.name, email=staff.email, role=staff.role, session=signed, csrf=csrf
    )


def make_signer(settings: GatewaySettings) -> sessions.SessionSigner | None:
    secret = settings.staff_session_secret.get_secret_value().strip()
    if not secret:
        if settings.environment == "production":
            return None
        secret = secrets.token_urlsafe(32)
    return sessions.SessionSigner(secret, lifetime_seconds=settings.staff_session_hours * 3600)


def shop_timezone() -> tzinfo:
    try:
        return load_shop_profile().opening_hours.tz
    except ShopProfileError:
        return UTC


def make_templates() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["clock"] = _clock
    env.filters["ago"] = _ago
    env.filters["label"] = lambda value: str(value or "").replace("_", " ")
    return env


def _clock(value: datetime | None) -> str:
    if value is None:
        return ""
    local = value.astimezone(shop_timezone())
    return local.strftime("%d %b %Y, %H:%M")


def _ago(value: datetime | None) -> str:
    if value is None:
        return ""
    seconds = max(0, int((datetime.now(UTC) - value).total_seconds()))
    if seconds < 60:
        return "just now"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours = minutes // 60
    if hours < 48:
        return f"{hours} h {minutes % 60} min"
    return f"{hours // 24} days"
