"""Gateway test fixtures: a database the gateway commits to for real (and `unit`, a step of
bot/persistence run as its own unit of work on it; `new_conversation`), the fake Rasa and
action server (tests/fakes/rasa.py), the conversation service wired to them
(tests/fakes/rigs.py), the whole app served by a real uvicorn on a free port
(tests/fakes/gateway.py), the fake Twilio REST API (tests/fakes/twilio.py), the fake Bot
API and a gateway whose Telegram channel talks to it (tests/fakes/telegram.py; for the
router and channel tests alike), and Debian's Chromium for the browser tests.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from types import ModuleType
from typing import Any, TypeVar

import httpx
import pytest
import pytest_asyncio
from playwright.sync_api import Browser
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.conversations import ConversationService
from bot.core.db import run_unit
from bot.persistence import rows
from crm.db import make_engine
from crm.models import Base, Customer
from crm.shop import ShopProfileError
from tests.bot.staff_support import HandoffRig, build_rig
from tests.bot.telegram_support import LINK_SECRET, PUBLIC_WEBHOOK, WEBHOOK_SECRET
from tests.fakes.browser import chromium
from tests.fakes.gateway import Gateway, ThreadedGateway, gateway_app, start_gateway_server
from tests.fakes.rasa import FakeRasa, HandoffRasa
from tests.fakes.rigs import ServiceRig, build_service_rig
from tests.fakes.telegram import TOKEN, FakeTelegram, TelegramUser, serve
from tests.fakes.twilio import FakeTwilioApi

# -- database ----------------------------------------------------------------------


@pytest.fixture
def gateway_db_url(empty_db_url: str) -> Iterator[str]:
    engine = make_engine(empty_db_url)
    Base.metadata.create_all(engine)
    engine.dispose()
    yield empty_db_url


@pytest.fixture
def db_engine(gateway_db_url: str) -> Iterator[Engine]:
    engine = make_engine(gateway_db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def db(db_engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(db_engine, expire_on_commit=False)


@pytest.fixture
def customer(db: sessionmaker[Session]) -> Customer:
    with db() as session:
        row = Customer(
            external_id="C001",
            first_name="Ada",
            last_name="Lovelace",
            email="ada.lovelace@example.com",
            phone="+447700900123",
        )
        session.add(row)
        session.commit()
        return row


T = TypeVar("T")


@pytest.fixture
def unit(db: sessionmaker[Session]) -> Callable[..., Any]:
    """Run one step (a function of the session, as bot/persistence's) as its own unit of work."""

    def run(fn: Callable[..., T], /, **kwargs: Any) -> T:
        return run_unit(db, fn, **kwargs)

    return run


@pytest.fixture
def new_conversation(unit: Callable[..., Any]) -> Callable[..., Any]:
    """A new web conversation (at `address`, bound to `customer` when given)."""

    def create(address: str = "addr", customer: str | None = None) -> Any:
        return unit(
            rows.create_conversation, channel="web", address=address, customer_external_id=customer, locale="en"
        )

    return create


# -- the shop profile --------------------------------------------------------------------


NOWHERE = "/nowhere/shop.yml"


@pytest.fixture
def unreadable_profile(monkeypatch: pytest.MonkeyPatch) -> Callable[[ModuleType], str]:
    """Make a module's `load_shop_profile` fail as a missing shop.yml does; returns the path it names."""

    def patch(module: ModuleType) -> str:
        def unreadable() -> None:
            raise ShopProfileError(f"cannot read shop profile {NOWHERE}")

        monkeypatch.setattr(module, "load_shop_profile", unreadable)
        return NOWHERE

    return patch


# -- Rasa and the action server --------------------------------------------------


@pytest.fixture
def fake_rasa() -> FakeRasa:
    return FakeRasa()


# -- the conversation service, without HTTP in front ------------------------------


@pytest_asyncio.fixture
async def make_rig(
    db: sessionmaker[Session], fake_rasa: FakeRasa
) -> AsyncIterator[Callable[..., ServiceRig]]:
    clients: list[httpx.AsyncClient] = []
    services: list[ConversationService] = []

    def build(*, timeout: float = 2.0, guard: Any = None, turn_policy: Any = None) -> ServiceRig:
        rig, http = build_service_rig(db, fake_rasa, timeout=timeout, guard=guard, turn_policy=turn_policy)
        clients.append(http)
        services.append(rig.service)
        return rig

    yield build
    for service in services:
        await service.aclose(timeout=5)
    for http in clients:
        await http.aclose()


@pytest_asyncio.fixture
async def rig(make_rig: Callable[..., ServiceRig]) -> ServiceRig:
    return make_rig()


@pytest_asyncio.fixture
async def handoff_rig(db: sessionmaker[Session], fake_rasa: FakeRasa) -> AsyncIterator[HandoffRig]:
    """The service on a Rasa that hands off and resumes, with a fan-out and a clock (tests/bot/staff_support.py)."""
    built, http = build_rig(db, fake_rasa)
    yield built
    await built.service.aclose(timeout=5)
    await http.aclose()


# -- the whole gateway on a real port ----------------------------------------------


@pytest_asyncio.fixture
async def start_gateway(gateway_db_url: str, fake_rasa: FakeRasa) -> AsyncIterator[Callable[..., Any]]:
    servers: list[tuple[Gateway, asyncio.Task[None]]] = []

    async def start(*, ws_max_size: int = 64 * 1024, **overrides: Any) -> Gateway:
        app = gateway_app(gateway_db_url, fake_rasa, **overrides)
        servers.append(await start_gateway_server(app, ws_max_size=ws_max_size))
        return servers[-1][0]

    yield start
    for gateway, _ in servers:
        gateway.server.should_exit = True
    for _, task in servers:
        await asyncio.wait_for(task, 15)


@pytest_asyncio.fixture
async def gateway(start_gateway: Callable[..., Any]) -> Gateway:
    return await start_gateway()


@pytest.fixture
def console_url(gateway_db_url: str, db: sessionmaker[Session], fake_rasa: FakeRasa) -> Iterator[str]:
    """The staff console of a threaded gateway whose Rasa hands off (sync browser tests)."""
    rasa = HandoffRasa(fake_rasa, db)
    secret = "staff-session-secret-for-tests-0123"
    with ThreadedGateway(lambda: gateway_app(gateway_db_url, rasa, staff_session_secret=secret)) as gateway:
        yield gateway.url


# -- fake platforms -----------------------------------------------------------------------


@pytest.fixture
def twilio() -> Iterator[FakeTwilioApi]:
    """Twilio's REST API on a free port; SMS channels and gateways are pointed at its url."""
    with FakeTwilioApi().serve() as fake:
        yield fake


# -- Telegram: the fake Bot API, and gateways whose Telegram channel talks to it -----------


@pytest_asyncio.fixture
async def fake_tg() -> AsyncIterator[tuple[FakeTelegram, str]]:
    fake = FakeTelegram()
    async with serve(fake) as url:
        yield fake, url


@pytest.fixture
def start_tg_gateway(
    start_gateway: Callable[..., Any], fake_tg: tuple[FakeTelegram, str]
) -> Callable[..., Any]:
    async def start(**overrides: Any) -> Gateway:
        values = {
            "telegram_bot_token": TOKEN,
            "telegram_api_base_url": fake_tg[1],
            "telegram_webhook_secret": WEBHOOK_SECRET,
            "telegram_webhook_url": PUBLIC_WEBHOOK,
            "telegram_link_secret": LINK_SECRET,
        }
        values.update(overrides)
        return await start_gateway(**values)

    return start


@pytest_asyncio.fixture
async def tg(start_tg_gateway: Callable[..., Any]) -> Gateway:
    return await start_tg_gateway()


@pytest.fixture
def fake(fake_tg: tuple[FakeTelegram, str]) -> FakeTelegram:
    return fake_tg[0]


@pytest.fixture
def ada() -> TelegramUser:
    return TelegramUser(user_id=555_000_111, first_name="Ada")


# -- the browser -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched
