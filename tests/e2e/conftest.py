"""The real stack for end-to-end tests: the trained model, the real action
server and gateway, a temporary CRM seeded with the demo data, free ports.

One stack serves the whole test session (Rasa takes ~20 s to load a model).
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Iterator
from typing import Any
from pathlib import Path

import pytest

from bot.supervision import HealPolicy, Supervisor
from bot.supervisor import ROOT, Stack, free_port
from tests.bot.fake_telegram import FakeTelegram, serve_in_thread
from tests.bot.fake_twilio import FakeTwilioApi
from tests.e2e.fake_shop import FakeShop, serve_fake_shop
# The staff console in Chromium, for every channel's handoff test (see staff_console.py).
from tests.e2e.staff_console import staff_browser, staff_console, staff_user  # noqa: F401

MODEL = ROOT / "models" / "assistant.tar.gz"


class RunningStack:
    """A Stack driven from a private event loop in a thread, so sync and async
    tests alike can use it."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self._stop_supervising: asyncio.Event | None = None
        self._supervising: Any = None

    def supervise(self, policy: HealPolicy) -> Supervisor:
        """Heal the stack as `make run` does (a child killed by a test comes back)."""
        supervisor = Supervisor(self.stack, policy)
        self._stop_supervising = asyncio.Event()
        self._supervising = asyncio.run_coroutine_threadsafe(supervisor.run(self._stop_supervising), self.loop)
        return supervisor

    def call(self, coro, timeout: float = 300):  # type: ignore[no-untyped-def]
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        if self._stop_supervising is not None:
            self.loop.call_soon_threadsafe(self._stop_supervising.set)
            self._supervising.result(30)
        self.call(self.stack.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


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
    work = Path(stack_env["STACK_WORK_DIR"])
    running = RunningStack(
        Stack(
            env=stack_env,
            rasa_port=free_port(),
            action_port=free_port(),
            gateway_port=free_port(),
            model=MODEL,
            quiet=True,
            log_dir=work / "logs",
        )
    )
    try:
        running.call(running.stack.start())
        running.call(running.stack.wait_healthy(timeout=240))
        running.stack.supervisor = running.supervise(  # type: ignore[attr-defined]
            HealPolicy(check_interval=1.0, unhealthy_after=10.0, startup_grace=240.0)
        )
    except BaseException:
        logs = "\n".join(
            f"--- {p.name}\n{p.read_text()[-4000:]}" for p in sorted((work / "logs").glob("*.log"))
        )
        running.close()
        pytest.fail(f"the stack did not start:\n{logs}")
    yield running.stack
    running.close()
