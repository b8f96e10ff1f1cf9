"""A staff member using the console at /staff, in real headless Chromium (Playwright, async API).

For end-to-end tests on any channel:

    from tests.e2e.staff_console import StaffAccount, StaffConsole

    async def test_handoff(stack, staff_user: StaffAccount, staff_console: StaffConsole) -> None:
        ...  # the customer asks for a person on their channel
        await staff_console.sign_in(staff_user.email, staff_user.password)
        await staff_console.open_queue()
        await staff_console.wait_for_conversation(conversation_id)   # appears live, opens it
        await staff_console.assign_to_me()
        await staff_console.reply("Hi, I'm Sam from the shop - let me check that for you.")
        await staff_console.wait_for_customer_message("thanks")      # the customer's answer, live
        await staff_console.resolve()                                # the bot then asks for a rating

Fixtures (in tests/e2e/conftest.py, for every e2e test):
- `staff_user`: a fresh agent account in the e2e CRM (unique e-mail; `.password` in clear).
- `staff_browser`: Chromium from Debian (/usr/bin/chromium), never a downloaded one.
- `staff_console`: a `StaffConsole` on a new page pointed at the stack's gateway.

Every method waits for the page to show the result (Playwright's `expect`),
so a test reads as what a person does and sees.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from playwright.async_api import Page, expect

from crm.db import session_scope

STAFF_PASSWORD = "e2e staff password 0123"
TIMEOUT_MS = 30_000


@dataclass(frozen=True)
class StaffAccount:
    id: int
    email: str
    name: str
    password: str
    role: str


def create_staff_account(crm_url: str, *, name: str = "Sam Carter", role: str = "agent") -> StaffAccount:
    from bot.staff.accounts import create_staff
    from crm.models import StaffRole

    email = f"staff-{uuid.uuid4().hex[:10]}@shop.example"
    with session_scope(crm_url) as session:
        staff = create_staff(
            session, email=email, name=name, role=StaffRole(role), password=STAFF_PASSWORD, actor="e2e"
        )
        staff_id = staff.id
    return StaffAccount(id=staff_id, email=email, name=name, password=STAFF_PASSWORD, role=role)


class StaffConsole:
    def __init__(self, page: Page, base_url: str) -> None:
        self.page = page
        self.base_url = base_url.rstrip("/")

    async def sign_in(self, email: str, password: str) -> None:
        await self.page.goto(self.base_url + "/staff/sign-in")
        await self.page.get_by_label("Email").fill(email)
        await self.page.get_by_label("Password").fill(password)
        await self.page.get_by_role("button", name="Sign in").click()
        await expect(self.page.get_by_role("heading", name="Queue", exact=True)).to_be_visible(
            timeout=TIMEOUT_MS
        )

    async def open_queue(self) -> None:
        await self.page.goto(self.base_url + "/staff")
        await self._live()

    async def wait_for_conversation(self, conversation_id: str, timeout_ms: int = TIMEOUT_MS) -> None:
        """Wait until the conversation shows in the live queue (without reloading), then open it."""
        if not self.page.url.rstrip("/").endswith("/staff"):
            await self.open_queue()
        row = self.page.locator(f'#queue tr[data-conversation-id="{conversation_id}"]')
        await expect(row).to_be_visible(timeout=timeout_ms)
        await row.get_by_role("link", name=re.compile("^Open")).click()
        await expect(self.page.get_by_role("heading", name=re.compile("^Conversation"))).to_be_visible()
        await self._live()

    async def open_conversation(self, conversation_id: str) -> None:
        await self.page.goto(f"{self.base_url}/staff/conversations/{conversation_id}")
        await self._live()

    async def assign_to_me(self) -> None:
        await self.page.get_by_role("button", name="Assign to me").click()
        await expect(self.status).to_have_text("Assigned to you", timeout=TIMEOUT_MS)

    async def reply(self, text: str) -> None:
        await self.page.get_by_label("Reply to the customer").fill(text)
        await self.page.get_by_role("button", name="Send", exact=True).click()
        await expect(self.transcript.locator(".msg.agent").filter(has_text=text)).to_be_visible(
            timeout=TIMEOUT_MS
        )
        await expect(self.page.get_by_label("Reply to the customer")).to_have_value("")

    async def resolve(self) -> None:
        await self.page.get_by_role("button", name="Resolve").click()
        await expect(self.status).to_have_text(re.compile("Resolved|With the assistant"), timeout=TIMEOUT_MS)

    async def wait_for_customer_message(self, text: str, timeout_ms: int = TIMEOUT_MS) -> None:
        """A customer message appearing live in the open conversation."""
        await expect(self.transcript.locator(".msg.customer").filter(has_text=text)).to_be_visible(
            timeout=timeout_ms
        )

    async def transcript_lines(self) -> list[tuple[str, str]]:
        """(sender, text) of every line shown, in order: sender is customer, bot, agent or system."""
        rows = await self.page.evaluate(
            """() => [...document.querySelectorAll('#transcript .msg')].map(m => [
                m.classList[1], (m.querySelector('.text') || {textContent: ''}).textContent])"""
        )
        return [(who, text) for who, text in rows]

    @property
    def status(self):  # type: ignore[no-untyped-def]
        return self.page.get_by_test_id("status")

    @property
    def transcript(self):  # type: ignore[no-untyped-def]
        return self.page.get_by_role("log")

    async def _live(self) -> None:
        # The console's WebSocket is connected: nothing that happens from now on is missed.
        await expect(self.page.locator("body[data-live=on]")).to_be_attached(timeout=TIMEOUT_MS)
