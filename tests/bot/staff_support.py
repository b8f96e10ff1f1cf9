"""Helpers for the handoff and staff console tests.

- `HandoffRig`: the conversation service wired to `HandoffRasa` (tests/fakes/rasa.py),
  a recording channel, an in-process fan-out and a clock the test sets.
- `StaffClient`: a staff member's browser as far as HTTP goes (cookies, the
  CSRF token from the page), against a gateway on a real port.
"""

from __future__ import annotations

import html
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from argon2 import PasswordHasher
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.core.messages import ConversationRef, InboundMessage
from bot.conversations import Outcome
from bot.staff import accounts
from crm.models import AuditEntry, Conversation, Handoff, Message, StaffRole, StaffUser
from crm.shop import ShopProfile, load_shop_profile
from tests.fakes.rasa import HANDOFF_TEXT, PERSON, RATING_QUESTION, FakeRasa, HandoffRasa
from tests.fakes.rigs import Clock, RecordingFanout, ServiceRig, make_service, messages_of

# Cheap parameters: tests create many accounts; the hash format is the real one.
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
PASSWORD = "staff password 0123"
LONDON = "Europe/London"
# shop.yml: Monday to Friday 09:00-17:30, Saturday 10:00-14:00, Sunday closed (UK time).
MONDAY_MORNING = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # open
SUNDAY_NOON = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)  # closed; back Monday 09:00
CHRISTMAS_DAY = datetime(2026, 12, 25, 11, 0, tzinfo=UTC)  # a holiday on a Friday

# Imported from here by the handoff and staff tests.
__all__ = ["HANDOFF_TEXT", "PERSON", "RATING_QUESTION", "HandoffRasa"]


@dataclass
class HandoffRig(ServiceRig):
    rasa: HandoffRasa
    fanout: RecordingFanout
    clock: Clock
    counter: int = 0

    async def say(self, conversation_id: str, text: str = "", **kw: Any) -> Outcome:
        self.counter += 1
        message = InboundMessage(
            channel="web",
            conversation_id=conversation_id,
            channel_message_id=f"{conversation_id}:m{self.counter}",
            text=text,
            **kw,
        )
        return await self.service.handle(message)

    async def handed_off(self, *, customer: str | None = None, address: str = "addr") -> ConversationRef:
        conversation = await self.conversation(customer=customer, address=address)
        await self.say(conversation.id, PERSON)
        return conversation

    def staff(self, name: str = "Sam Carter", role: StaffRole = StaffRole.agent) -> int:
        return create_staff(self.db, name=name, role=role)

    def messages(self, conversation_id: str) -> list[Message]:
        return messages_of(self.db, conversation_id)

    def handoffs(self, conversation_id: str) -> list[Handoff]:
        with self.db() as session:
            return list(
                session.scalars(
                    select(Handoff).where(Handoff.conversation_id == conversation_id).order_by(Handoff.id)
                )
            )

    def audit(self, action: str | None = None) -> list[AuditEntry]:
        with self.db() as session:
            query = select(AuditEntry).order_by(AuditEntry.id)
            if action is not None:
                query = query.where(AuditEntry.action == action)
            return list(session.scalars(query))


def create_staff(
    db: sessionmaker[Session],
    *,
    name: str = "Sam Carter",
    role: StaffRole = StaffRole.agent,
    email: str | None = None,
) -> int:
    with db() as session:
        staff = accounts.create_staff(
            session,
            email=email or f"{name.split()[0].lower()}.{int(time.monotonic() * 1e6) % 10**9}@shop.example",
            name=name,
            role=role,
            password=PASSWORD,
            actor="test",
            hasher=FAST_HASHER,
        )
        session.commit()
        return staff.id


def staff_email(db: sessionmaker[Session], staff_id: int) -> str:
    with db() as session:
        staff = session.get(StaffUser, staff_id)
        assert staff is not None
        return staff.email


def build_rig(
    db: sessionmaker[Session],
    fake_rasa: FakeRasa,
    *,
    now: datetime = MONDAY_MORNING,
    profile: Callable[[], ShopProfile | None] = load_shop_profile,
    alerts: Any = None,
    timeout: float = 2.0,
) -> tuple[HandoffRig, httpx.AsyncClient]:
    rasa = HandoffRasa(fake_rasa, db)
    http = httpx.AsyncClient(transport=httpx.MockTransport(rasa.handler))
    fanout = RecordingFanout()
    clock = Clock(now)
    service, channel, metrics = make_service(
        db,
        http,
        timeout=timeout,
        events=fanout,
        alerts=alerts,
        shop_profile=profile,
        clock=clock,
        console_url="https://shop.example",
    )
    rig = HandoffRig(
        service=service, channel=channel, rasa=rasa, fanout=fanout, clock=clock, metrics=metrics, db=db
    )
    return rig, http


# -- over HTTP ------------------------------------------------------------------------------


_CSRF = re.compile(r'data-csrf="([^"]+)"')
_FORM_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


class StaffClient:
    """One staff member's browser: its cookies, and the CSRF token the pages carry."""

    def __init__(self, base_url: str, *, headers: dict[str, str] | None = None) -> None:
        self.http = httpx.AsyncClient(base_url=base_url, follow_redirects=False, headers=headers or {})
        self.csrf: str | None = None

    async def aclose(self) -> None:
        await self.http.aclose()

    async def sign_in_form(self) -> str:
        page = await self.http.get("/staff/sign-in")
        assert page.status_code == 200, page.text
        match = _FORM_CSRF.search(page.text)
        assert match
        return match.group(1)

    async def try_sign_in(self, email: str, password: str) -> httpx.Response:
        token = await self.sign_in_form()
        return await self.http.post(
            "/staff/sign-in", data={"csrf": token, "email": email, "password": password, "next": "/staff"}
        )

    async def sign_in(self, email: str, password: str = PASSWORD) -> None:
        response = await self.try_sign_in(email, password)
        assert response.status_code == 303, response.text
        page = await self.http.get("/staff")
        assert page.status_code == 200
        match = _CSRF.search(page.text)
        assert match
        self.csrf = match.group(1)

    async def post(
        self,
        path: str,
        data: dict[str, str] | None = None,
        *,
        json_reply: bool = True,
        csrf: str | None = "page",
    ) -> httpx.Response:
        headers = {"Accept": "application/json"} if json_reply else {}
        body = dict(data or {})
        if csrf == "page":
            assert self.csrf is not None
            headers["X-CSRF-Token"] = self.csrf
        elif csrf is not None:
            headers["X-CSRF-Token"] = csrf
        return await self.http.post(path, data=body, headers=headers)

    async def get(self, path: str) -> httpx.Response:
        return await self.http.get(path)

    def cookie_header(self) -> str:
        return "; ".join(f"{name}={value}" for name, value in self.http.cookies.items())


def page_text(response: Any) -> str:
    """A console page as the text a person reads: entities decoded, whitespace collapsed."""
    return html.unescape(re.sub(r"\s+", " ", response.text))


def conversation_ids(db: sessionmaker[Session]) -> list[str]:
    """Every conversation's id, oldest first."""
    with db() as session:
        return list(session.scalars(select(Conversation.id).order_by(Conversation.created_at)))
