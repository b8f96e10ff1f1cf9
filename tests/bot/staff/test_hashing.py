"""Argon2 on its own bounded pool: a sign-in flood neither queues without end
nor holds up the database work every chat needs."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from bot.staff import hashing, passwords
from bot.staff.hashing import HashingBusy, PasswordHasherPool
from tests.bot.staff_support import PASSWORD, StaffClient, create_staff, staff_email
from tests.fakes.rasa import FakeRasa

pytestmark = pytest.mark.asyncio


@pytest.fixture
def stuck_argon2(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """Every argon2 check blocks until the test lets go (an attacker's flood, frozen in place)."""
    release = threading.Event()
    real = passwords.verify_password
    threads: set[str] = set()

    def slow(password_hash: str | None, password: str) -> bool:
        threads.add(threading.current_thread().name)
        release.wait(30)
        return real(password_hash, password)

    monkeypatch.setattr(passwords, "verify_password", slow)
    release.threads = threads  # type: ignore[attr-defined]
    yield release
    release.set()


async def test_a_full_pool_answers_busy_at_once_and_recovers(stuck_argon2: threading.Event) -> None:
    pool = PasswordHasherPool(workers=1, max_waiting=1)
    try:
        running = [asyncio.create_task(pool.verify(None, "guess-one-123")) for _ in range(2)]
        await asyncio.sleep(0.05)
        assert pool.in_flight == 2
        started = time.perf_counter()
        with pytest.raises(HashingBusy):
            await pool.verify(None, "guess-three-1")
        assert time.perf_counter() - started < 0.05
        stuck_argon2.set()
        assert await asyncio.gather(*running) == [False, False]
        assert pool.in_flight == 0
        assert stuck_argon2.threads == {"argon2_0"}  # type: ignore[attr-defined]
        assert await pool.verify(await pool.hash_new(PASSWORD), PASSWORD)
    finally:
        pool.close()


async def test_hashing_threads_are_not_the_default_pool(stuck_argon2: threading.Event) -> None:
    pool = PasswordHasherPool(workers=2, max_waiting=30)
    try:
        flood = [asyncio.create_task(pool.verify(None, f"guess-{i}-0123")) for i in range(32)]
        await asyncio.sleep(0.05)
        # Database work (asyncio.to_thread, the default pool) still runs straight away.
        started = time.perf_counter()
        assert await asyncio.to_thread(lambda: "db work") == "db work"
        assert time.perf_counter() - started < 0.5
        stuck_argon2.set()
        await asyncio.gather(*flood)
    finally:
        pool.close()


async def test_a_sign_in_flood_gets_503_and_chats_are_still_answered(
    start_gateway: Callable[..., Any],
    db: Any,
    fake_rasa: FakeRasa,
    stuck_argon2: threading.Event,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pools: list[PasswordHasherPool] = []
    real_init = PasswordHasherPool.__init__

    def remembered(self: PasswordHasherPool, **kw: Any) -> None:
        real_init(self, **kw)
        pools.append(self)

    monkeypatch.setattr(PasswordHasherPool, "__init__", remembered)

    def in_flight() -> int:
        return sum(pool.in_flight for pool in pools)

    gateway = await start_gateway(rate_limit_sign_in_ip_burst=1000, rate_limit_sign_in_ip_per_minute=1000)
    email = staff_email(db, create_staff(db, name="Sam Carter"))
    attacker = StaffClient(gateway.url)
    attacker.http.timeout = httpx.Timeout(60)  # the flood waits as long as the test holds argon2
    try:
        token = await attacker.sign_in_form()
        capacity = 2 + 16  # PasswordHasherPool's defaults: 2 hashing, 16 waiting

        async def guess(i: int) -> httpx.Response:
            form = {"csrf": token, "email": f"guess{i}@shop.example", "password": f"wrong-guess-{i:04d}"}
            return await attacker.http.post("/staff/sign-in", data=form)

        flood = [asyncio.create_task(guess(i)) for i in range(capacity)]
        # Wait until the whole flood holds the pool (a fixed sleep raced a busy machine:
        # a late guess met the full pool and the probe below took its place).
        deadline = time.monotonic() + 30
        while in_flight() < capacity:
            assert time.monotonic() < deadline, f"only {in_flight()} of {capacity} guesses reached the pool"
            await asyncio.sleep(0.02)
        refused = await guess(999)
        assert refused.status_code == 503 and refused.headers["retry-after"] == "5"
        assert "busy" in refused.text
        # Meanwhile a customer chats: every turn needs the default pool's database threads.
        started = time.perf_counter()
        async with gateway.connect() as tab:
            await tab.recv()
            await tab.recv()
            await tab.say("c-1", "hello")
            await tab.recv_until(lambda f: f["type"] == "message" and f["from"] == "bot", timeout=3)
        assert time.perf_counter() - started < 2.0
        stuck_argon2.set()
        assert {r.status_code for r in await asyncio.gather(*flood)} == {401}
        # And the real staff member signs in once the flood has drained.
        staff = StaffClient(gateway.url)
        await staff.sign_in(email)
        await staff.aclose()
    finally:
        stuck_argon2.set()
        await attacker.aclose()


def test_the_pool_module_keeps_argon2_parameters_in_one_place() -> None:
    # hashing.py calls passwords.* so the hash parameters stay in passwords.py.
    assert hashing.passwords is passwords


async def test_admins_new_and_reset_passwords_are_hashed_on_the_argon2_pool(
    gateway: Any, db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy import select

    from crm.models import StaffRole, StaffUser

    admin = StaffClient(gateway.url)
    try:
        await admin.sign_in(staff_email(db, create_staff(db, name="Robin Admin", role=StaffRole.admin)))
        threads: list[str] = []
        real = passwords.hash_password

        def recorded(password: str, **kw: Any) -> str:
            threads.append(threading.current_thread().name)
            return real(password, **kw)

        monkeypatch.setattr(passwords, "hash_password", recorded)
        form = {"email": "new@shop.example", "name": "New Person", "role": "agent", "password": "n" * 8 + "-pass-01"}
        created = await admin.post("/staff/admin/staff", form, json_reply=False)
        assert created.status_code == 303, created.text
        with db() as session:
            new = session.scalars(select(StaffUser).where(StaffUser.email == "new@shop.example")).one()
        reset = await admin.post(f"/staff/admin/staff/{new.id}", {"password": "r" * 8 + "-pass-02"}, json_reply=False)
        assert reset.status_code == 303, reset.text
        assert len(threads) == 2 and all(name.startswith("argon2") for name in threads), threads
        weak = await admin.post("/staff/admin/staff", {**form, "email": "w@shop.example", "password": "short"})
        assert weak.status_code == 400 and len(threads) == 2
    finally:
        await admin.aclose()
