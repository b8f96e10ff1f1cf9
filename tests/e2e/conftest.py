"""The real stack for end-to-end tests (tests/fakes/stack.py): the trained model, the real
action server and gateway, a temporary CRM seeded with the demo data, free ports, and
the fakes of Twilio, Telegram and the shop (tests/fakes/) it talks to.

One stack serves the whole test session (Rasa takes ~20 s to load a model).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
from playwright.async_api import Browser

from bot.supervision import HealPolicy
from bot.supervisor import Stack
from tests.e2e.staff_console import StaffAccount, StaffConsole, create_staff_account
from tests.fakes.browser import async_chromium
from tests.fakes.shop import FakeShop, serve_fake_shop
from tests.fakes.stack import MODEL, running_stack
from tests.fakes.telegram import FakeTelegram, serve_in_thread
from tests.fakes.twilio import FakeTwilioApi


@pytest.fixture(scope="session")
def fake_twilio() -> Iterator[FakeTwilioApi]:
    """Twilio's REST API for the gateway's SMS channel (never the real one)."""
    with FakeTwilioApi().serve() as fake:
        yield fake


@pytest.fixture(scope="session")
def fake_shop() -> Iterator[FakeShop]:
    """The shop's endpoint for customers' requests, and its Shopify webhook secret."""
    with serve_fake_shop() as fake:
        yield fake


@pytest.fixture(scope="session")
def fake_telegram() -> Iterator[FakeTelegram]:
    """Telegram's Bot API for the gateway's Telegram channel (never the real one)."""
    fake = FakeTelegram()
    with serve_in_thread(fake):
        yield fake


TELEGRAM_WEBHOOK_SECRET = "e2e-telegram-webhook-secret_0123456789"


STAFF_TELEGRAM_CHAT_ID = "-100777"


@pytest.fixture(scope="session")
def staff_env() -> dict[str, str]:
    """The staff console's settings: a fixed session secret, and new handoffs alerted to a staff chat."""
    return {
        "STAFF_SESSION_SECRET": "e2e-staff-session-secret-0123456789",
        "STAFF_TELEGRAM_CHAT_ID": STAFF_TELEGRAM_CHAT_ID,
    }


@pytest.fixture(scope="session")
def stack_env(
    tmp_path_factory: pytest.TempPathFactory,
    fake_twilio: FakeTwilioApi,
    fake_telegram: FakeTelegram,
    staff_env: dict[str, str],
    fake_shop: FakeShop,
) -> dict[str, str]:
    if not MODEL.exists():
        pytest.fail(f"No trained model at {MODEL}: `make test` trains it (or run `make train`).")
    work = tmp_path_factory.mktemp("stack")
    env = dict(os.environ)
    env.update(
        DATABASE_URL=f"sqlite:///{work / 'crm.db'}",
        TRACKER_STORE_URL=f"sqlite:///{work / 'rasa.db'}",
        RASA_TOKEN="e2e-rasa-token-0123456789abcdef",
        WIDGET_IDENTITY_SECRET="e2e-widget-secret-0123456789abcdef",
        DEMO_MODE="true",
        LOG_LEVEL="INFO",
        STACK_WORK_DIR=str(work),
    )
    env.pop("REDIS_URL", None)
    env.update(staff_env)
    env.update(fake_twilio.gateway_env())
    env.update(fake_shop.gateway_env())
    env.update(
        TELEGRAM_BOT_TOKEN=fake_telegram.token,
        TELEGRAM_API_BASE_URL=fake_telegram.base_url,
        TELEGRAM_MODE="webhook",
        TELEGRAM_WEBHOOK_SECRET=TELEGRAM_WEBHOOK_SECRET,
        TELEGRAM_LINK_SECRET="e2e-telegram-link-secret-0123456789",
    )
    return env


@pytest.fixture(scope="session")
def crm_url(stack_env: dict[str, str]) -> str:
    from crm.db import session_scope
    from crm.demo import seed_demo
    from crm.migrate import upgrade

    url = stack_env["DATABASE_URL"]
    upgrade(url)
    with session_scope(url) as session:
        seed_demo(session)
    return url


@pytest.fixture(scope="session")
def stack(stack_env: dict[str, str], crm_url: str) -> Iterator[Stack]:
    heal = HealPolicy(check_interval=1.0, unhealthy_after=10.0, startup_grace=240.0)
    with running_stack(stack_env, healthy_within=240, heal=heal) as started:
        yield started


# -- the staff console in Chromium, for every channel's handoff test (see staff_console.py) --


@pytest.fixture
def staff_user(crm_url: str) -> StaffAccount:
    """A fresh agent account in the e2e CRM."""
    return create_staff_account(crm_url)


@pytest_asyncio.fixture
async def staff_browser() -> AsyncIterator[Browser]:
    async with async_chromium() as browser:
        yield browser


@pytest_asyncio.fixture
async def staff_console(staff_browser: Browser, stack: Stack) -> AsyncIterator[StaffConsole]:
    context = await staff_browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield StaffConsole(page, stack.gateway_url)
    finally:
        await context.close()
    assert not errors, f"JavaScript errors in the staff console: {errors}"
