"""The staff console in real headless Chromium, against the gateway in-process
with the stand-in Rasa: live updates, keyboard use, two staff members at once.

(The full flow with the trained assistant is tests/e2e/test_handoff_web.py.)
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from websockets.sync.client import ClientConnection, connect

from crm.models import Conversation, Message, Sender, StaffRole
from tests.bot.staff_support import PASSWORD, PERSON, create_staff, staff_email
from tests.fakes.browser import new_page

expect.set_options(timeout=10_000)


def sign_in_with_keyboard(page: Page, url: str, email: str) -> None:
    page.goto(url + "/staff")  # not signed in: sent to the sign-in page, then back
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_label("Email")).to_be_focused()
    page.keyboard.type(email)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Queue", exact=True)).to_be_visible()
    expect(page.locator("body[data-live=on]")).to_be_attached()


def customer_asks_for_a_person(url: str) -> ClientConnection:
    widget = connect(url.replace("http", "ws") + "/ws/chat")
    while json.loads(widget.recv(5))["type"] != "history":
        pass
    widget.send(json.dumps({"type": "message", "id": "c1", "text": PERSON}))
    return widget


def next_frame(widget: ClientConnection, predicate: Any) -> dict[str, Any]:
    while True:
        frame = json.loads(widget.recv(10))
        if predicate(frame):
            return frame


def test_two_staff_members_see_the_handoff_and_each_other_live(
    browser: Browser, console_url: str, db: sessionmaker[Session]
) -> None:
    errors: list[str] = []
    sam = create_staff(db, name="Sam Carter")
    robin = create_staff(db, name="Robin Admin", role=StaffRole.admin)
    sam_page, robin_page = new_page(browser, errors), new_page(browser, errors)
    sign_in_with_keyboard(sam_page, console_url, staff_email(db, sam))
    sign_in_with_keyboard(robin_page, console_url, staff_email(db, robin))
    expect(sam_page.get_by_text("Nobody is waiting.")).to_be_visible()

    widget = customer_asks_for_a_person(console_url)
    try:
        with db() as session:
            conversation_id = session.scalars(select(Conversation.id)).one()
        # Both consoles update without a reload; screen readers hear about it.
        for page in (sam_page, robin_page):
            row = page.locator(f'#queue tr[data-conversation-id="{conversation_id}"]')
            expect(row).to_be_visible()
            expect(page.get_by_role("status").filter(has_text="A new customer is waiting")).to_be_attached()
            expect(page).to_have_title(re.compile(r"^\(1\) Queue"))

        # Sam opens it from the keyboard and takes it.
        link = sam_page.locator(f'#queue tr[data-conversation-id="{conversation_id}"] a')
        link.focus()
        sam_page.keyboard.press("Enter")
        expect(sam_page.locator("body[data-live=on]")).to_be_attached()
        robin_page.goto(f"{console_url}/staff/conversations/{conversation_id}")
        expect(robin_page.locator("body[data-live=on]")).to_be_attached()
        expect(sam_page.get_by_label("Reply to the customer")).to_be_disabled()
        sam_page.get_by_role("button", name="Assign to me").click()
        expect(sam_page.get_by_test_id("status")).to_have_text("Assigned to you")
        expect(robin_page.get_by_test_id("status")).to_have_text(
            "Assigned to Sam Carter"
        )  # live, on Robin's page
        joined = next_frame(widget, lambda f: f["type"] == "message" and "joined" in f.get("text", ""))
        assert joined["from"] == "system"

        # A canned reply, edited, sent from the keyboard; the customer gets it at once.
        sam_page.get_by_label("Canned reply").select_option(label="Looking into it")
        box = sam_page.get_by_label("Reply to the customer")
        expect(box).to_be_focused()
        expect(box).to_have_value("Thanks for waiting — I'm looking into this for you now.")
        box.press("End")
        box.type(" One moment.")
        sam_page.get_by_role("button", name="Send", exact=True).click()
        expect(box).to_have_value("")
        reply = next_frame(widget, lambda f: f["type"] == "message" and f["from"] == "agent")
        assert reply["text"] == "Thanks for waiting — I'm looking into this for you now. One moment."
        for page in (sam_page, robin_page):
            expect(page.get_by_role("log").locator(".msg.agent").last).to_contain_text("One moment.")
            expect(page.get_by_role("log").locator(".msg.agent .who").last).to_have_text("Sam Carter (staff)")

        # The customer answers; both consoles show it live.
        widget.send(json.dumps({"type": "message", "id": "c2", "text": "Thank you so much"}))
        for page in (sam_page, robin_page):
            expect(page.get_by_role("log").locator(".msg.customer").last).to_have_text(
                re.compile("Thank you so much")
            )

        # Robin (admin) may resolve too; Sam resolves here.
        sam_page.get_by_role("button", name="Resolve").click()
        expect(sam_page.get_by_test_id("status")).to_have_text("With the assistant")
        expect(robin_page.get_by_test_id("status")).to_have_text("With the assistant")
        expect(sam_page.get_by_role("button", name="Assign to me")).to_be_visible()  # staff can step in again
        rating = next_frame(
            widget, lambda f: f["type"] == "message" and f["from"] == "bot" and f.get("buttons")
        )
        assert [b["title"] for b in rating["buttons"]] == ["1", "2", "3", "4", "5"]
    finally:
        widget.close()
    with db() as session:
        senders = [m.sender for m in session.scalars(select(Message).order_by(Message.id))]
    assert senders.count(Sender.agent) == 1
    assert not errors, errors


def test_a_colleague_taking_the_conversation_updates_the_page_live(
    browser: Browser, console_url: str, db: sessionmaker[Session]
) -> None:
    errors: list[str] = []
    sam, alex = create_staff(db, name="Sam Carter"), create_staff(db, name="Alex Reid")
    alex_page = new_page(browser, errors)
    sign_in_with_keyboard(alex_page, console_url, staff_email(db, alex))
    widget = customer_asks_for_a_person(console_url)
    try:
        with db() as session:
            conversation_id = session.scalars(select(Conversation.id)).one()
        expect(alex_page.locator(f'#queue tr[data-conversation-id="{conversation_id}"]')).to_be_visible()
        alex_page.goto(f"{console_url}/staff/conversations/{conversation_id}")
        expect(alex_page.locator("body[data-live=on]")).to_be_attached()
        # Sam takes it a moment before Alex presses the (still visible) button.
        with httpx.Client(base_url=console_url) as http:
            form = http.get("/staff/sign-in")
            token = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
            http.post(
                "/staff/sign-in", data={"csrf": token, "email": staff_email(db, sam), "password": PASSWORD}
            )
            page = http.get("/staff")
            csrf = re.search(r'data-csrf="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
            taken = http.post(
                f"/staff/conversations/{conversation_id}/assign",
                headers={"X-CSRF-Token": csrf, "Accept": "application/json"},
            )
            assert taken.status_code == 200
        expect(alex_page.get_by_test_id("status")).to_have_text("Assigned to Sam Carter")
        expect(alex_page.get_by_role("button", name="Assign to me")).to_be_hidden()
        expect(alex_page.get_by_label("Reply to the customer")).to_be_disabled()
    finally:
        widget.close()
    assert not errors, errors
