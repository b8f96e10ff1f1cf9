"""The widget in a real headless Chromium, on the gateway's demo shop page.

By default the gateway runs in-process (uvicorn in a thread, demo data
seeded) with a stand-in for Rasa (`shop_assistant`, behind the `assistant`
fixture). To drive the real stack instead, start it with DEMO_MODE=true and
demo data, and set BROWSER_TEST_GATEWAY_URL=http://127.0.0.1:8000: the same
tests then run against it, minus the checks that need the stand-in's records
or a gateway they can stop and start.

Chromium is Debian's package, never a browser downloaded at run time (the `browser`
fixture of tests/bot/conftest.py, tests/fakes/browser.py); if it is missing these
tests fail and say how to install it.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Locator, Page, WebSocketRoute, expect
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.app import create_app
from crm.demo import seed_demo
from crm.models import Message, Sender
from crm.settings import PROJECT_ROOT
from tests.fakes.gateway import ThreadedGateway, gateway_settings
from tests.fakes.rasa import FakeRasa, RasaCall

SCREENSHOTS = PROJECT_ROOT / "var" / "screenshots"
WIDGET = "#shop-chat-widget"
ORDER_QUESTION = "where is my order 1043"
# What any good answer to it says, from the stand-in or the trained assistant.
ORDER_ANSWER = re.compile(r"1043.*shipped|shipped.*1043", re.IGNORECASE | re.DOTALL)

expect.set_options(timeout=10_000)


# -- the Rasa stand-in ---------------------------------------------------------------


def shop_assistant(call: RasaCall) -> list[dict[str, Any]]:
    """Answers the way the trained assistant does for these few turns.

    Order details only for the customer the gateway verified, as the real
    actions do, so a broken signature shows up as a wrong answer.
    """
    text = call.message.lower()
    verified = call.metadata.get("customer_id")
    if call.message == "/track_parcel":
        return [{"recipient_id": call.sender, "text": "Royal Mail has it out for delivery today.\nIt should arrive by 6 pm."}]
    if call.message == "/thanks":
        return [{"recipient_id": call.sender, "text": "You're welcome! Anything else I can help with?"}]
    if "order" in text and "1043" in text:
        if verified != "C001":
            return [{"recipient_id": call.sender, "text": "I can only share order details once I know it's you."}]
        return [
            {
                "recipient_id": call.sender,
                "text": "Your order #1043 shipped 4 days ago with Royal Mail, tracking DW414134518GB: "
                "https://www.royalmail.com/track-your-item#/tracking-results/DW414134518GB",
                "buttons": [
                    {"title": "Track my parcel", "payload": "/track_parcel"},
                    {"title": "Thanks, that's all", "payload": "/thanks"},
                ],
            }
        ]
    if text == "show me markup":
        return [
            {
                "recipient_id": call.sender,
                "text": '<img src=x onerror="window.__xss=1"><b>bold</b> javascript:alert(1) https://shop.example/help',
            }
        ]
    return [{"recipient_id": call.sender, "text": "Sorry, I didn't get that."}]


@pytest.fixture
def assistant(fake_rasa: FakeRasa) -> FakeRasa:
    fake_rasa.reply = shop_assistant
    # Slow enough that the typing indicator is on screen for a moment.
    fake_rasa.delay = 0.6
    return fake_rasa


# -- the gateway ---------------------------------------------------------------------


@dataclass
class DemoStack:
    url: str
    # The stand-in's record of Rasa calls; None against the real stack.
    assistant: FakeRasa | None
    db: sessionmaker[Session] | None
    gateway: ThreadedGateway | None


@pytest.fixture
def gateway_overrides() -> dict[str, Any]:
    """Settings a test changes (parametrize this name to override)."""
    return {}


@pytest.fixture
def demo_stack(
    gateway_db_url: str, db: sessionmaker[Session], assistant: FakeRasa, gateway_overrides: dict[str, Any]
) -> Iterator[DemoStack]:
    external = os.environ.get("BROWSER_TEST_GATEWAY_URL")
    if external:
        if gateway_overrides:
            pytest.skip("changes gateway settings, so it needs the in-process gateway")
        yield DemoStack(url=external.rstrip("/"), assistant=None, db=None, gateway=None)
        return
    with db() as session:
        seed_demo(session)
        session.commit()
    settings = gateway_settings(gateway_db_url, demo_mode=True, **gateway_overrides)
    gateway = ThreadedGateway(lambda: create_app(settings, http_transport=httpx.MockTransport(assistant.handler)))
    gateway.start()
    try:
        yield DemoStack(url=f"http://127.0.0.1:{gateway.port}", assistant=assistant, db=db, gateway=gateway)
    finally:
        gateway.stop()


# -- the browser ---------------------------------------------------------------------


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


# -- helpers -------------------------------------------------------------------------


def sign_in(page: Page, stack: DemoStack, customer_id: str) -> None:
    page.goto(stack.url + "/")
    page.select_option("#demo-customer", customer_id)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_test_id("signed-in")).to_contain_text(f"({customer_id})")


def shadow_focus(page: Page) -> str | None:
    """What has focus inside the widget, as 'tag.class' (None if focus is outside it)."""
    return page.evaluate(
        """(sel) => {
            const host = document.querySelector(sel);
            if (document.activeElement !== host) return null;
            const el = host.shadowRoot.activeElement;
            return el ? el.tagName.toLowerCase() + "." + (el.className || "") : null;
        }""",
        WIDGET,
    )


def tab_to_launcher(page: Page) -> None:
    for _ in range(40):
        page.keyboard.press("Tab")
        if shadow_focus(page) == "button.launcher":
            return
    raise AssertionError("the chat launcher cannot be reached with the Tab key")


def chat_log(page: Page) -> Locator:
    return page.locator(f"{WIDGET} [role=log]")


def bubbles(page: Page) -> list[tuple[str, str]]:
    """(sender class, text) of every message shown, in order."""
    rows = page.evaluate(
        """(sel) => [...document.querySelector(sel).shadowRoot.querySelectorAll('.log .msg')]
            .map(m => [m.classList[1], m.querySelector('.text').textContent])""",
        WIDGET,
    )
    return [(who, text) for who, text in rows]


def typing_indicator(page: Page) -> Locator:
    return page.get_by_role("status").filter(has_text="Assistant is typing")


def open_with_keyboard(page: Page) -> None:
    tab_to_launcher(page)
    page.keyboard.press("Enter")
    expect(page.get_by_role("dialog")).to_be_visible()
    assert shadow_focus(page) == "textarea.", "opening the chat should put focus in the message box"


def ask(page: Page, text: str) -> None:
    box = page.get_by_label("Type your message")
    box.fill(text)
    box.press("Enter")


def storage_key(stack: DemoStack) -> str:
    return "shop-chat:" + stack.url


def stored_session(page: Page) -> str | None:
    key = page.evaluate("() => Object.keys(localStorage).find(k => k.startsWith('shop-chat:'))")
    return page.evaluate("(k) => JSON.parse(localStorage.getItem(k)).session", key) if key else None


def stored_customer_messages(stack: DemoStack, text: str) -> int:
    assert stack.db is not None
    with stack.db() as session:
        return len(
            session.scalars(select(Message).where(Message.sender == Sender.customer, Message.text == text)).all()
        )


# -- tests ---------------------------------------------------------------------------


def test_signed_in_customer_asks_about_an_order_and_finds_it_after_reload(page: Page, demo_stack: DemoStack) -> None:
    sign_in(page, demo_stack, "C001")
    open_with_keyboard(page)

    ask(page, ORDER_QUESTION)
    if demo_stack.assistant is not None:  # the stand-in is slow on purpose; real Rasa may be too quick to see
        expect(typing_indicator(page)).to_be_visible()
    answer = chat_log(page).locator(".msg.bot").first
    expect(answer).to_contain_text(ORDER_ANSWER)
    expect(typing_indicator(page)).to_be_hidden()
    expect(page.get_by_label("Type your message")).to_have_value("")

    # Quick replies under the answer, operated from the keyboard.
    replies = chat_log(page).locator(".replies button")
    expect(replies.first).to_be_enabled()
    titles = replies.all_text_contents()
    assert titles, "the answer should offer quick replies"
    replies.first.focus()
    page.keyboard.press("Enter")
    expect(chat_log(page).locator(".msg.customer")).to_have_count(2)
    expect(chat_log(page).locator(".msg.customer").last).to_contain_text(titles[0])
    expect(chat_log(page).locator(".msg.bot")).to_have_count(2)
    for button in replies.all():
        expect(button).to_be_disabled()

    shown = bubbles(page)
    assert [who for who, _ in shown] == ["customer", "bot", "customer", "bot"]
    assert shown[0] == ("customer", ORDER_QUESTION) and shown[2] == ("customer", titles[0])

    page.reload()
    expect(page.get_by_test_id("signed-in")).to_contain_text("(C001)")
    open_with_keyboard(page)
    expect(chat_log(page).locator(".msg")).to_have_count(4)
    page.wait_for_timeout(500)  # anything that would arrive twice has arrived by now
    assert bubbles(page) == shown
    # The buttons of an answered turn come back disabled.
    for button in chat_log(page).locator(".replies button").all():
        expect(button).to_be_disabled()

    if demo_stack.assistant is not None:
        calls = [(c.message, c.metadata["customer_id"]) for c in demo_stack.assistant.calls]
        assert calls == [(ORDER_QUESTION, "C001"), ("/track_parcel", "C001")]
        assert stored_customer_messages(demo_stack, ORDER_QUESTION) == 1
        # The stand-in's answers: a safe link, and a line break that survives rendering
        # (innerText follows the CSS; textContent would not).
        link = answer.get_by_role("link")
        expect(link).to_have_attribute("href", re.compile(r"^https://www\.royalmail\.com/"))
        expect(link).to_have_attribute("rel", re.compile("noopener"))
        assert "today.\nIt should" in chat_log(page).locator(".msg.bot .text").last.inner_text()


def test_escape_closes_the_panel_and_returns_focus_to_the_launcher(page: Page, demo_stack: DemoStack) -> None:
    page.goto(demo_stack.url + "/")
    open_with_keyboard(page)
    launcher = page.locator(f"{WIDGET} .launcher")
    expect(launcher).to_have_attribute("aria-expanded", "true")

    page.keyboard.press("Escape")

    expect(page.get_by_role("dialog")).to_be_hidden()
    expect(launcher).to_have_attribute("aria-expanded", "false")
    assert shadow_focus(page) == "button.launcher"
    # And the close button works from the keyboard too.
    page.keyboard.press("Enter")
    expect(page.get_by_role("dialog")).to_be_visible()
    page.locator(f"{WIDGET} .close").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("dialog")).to_be_hidden()
    assert shadow_focus(page) == "button.launcher"


def test_accessibility_contract(page: Page, demo_stack: DemoStack) -> None:
    page.goto(demo_stack.url + "/")
    open_with_keyboard(page)

    log = chat_log(page)
    expect(log).to_have_attribute("aria-live", "polite")
    expect(page.get_by_role("log")).to_have_count(1)
    expect(page.get_by_role("textbox", name="Type your message")).to_be_visible()
    expect(page.get_by_role("dialog")).to_have_attribute("aria-labelledby", "chat-title")
    clickable = page.evaluate(
        """(sel) => [...document.querySelector(sel).shadowRoot.querySelectorAll('[onclick], [role=button]')].length""",
        WIDGET,
    )
    assert clickable == 0, "every control should be a real <button>"
    # Focus is visible: the focused launcher gets an outline.
    page.keyboard.press("Escape")
    outline = page.locator(f"{WIDGET} .launcher").evaluate(
        "b => [getComputedStyle(b).outlineStyle, getComputedStyle(b).outlineColor]"
    )
    assert outline == ["solid", "rgb(26, 115, 232)"]


def test_shop_colour_and_reduced_motion(page: Page, demo_stack: DemoStack) -> None:
    page.emulate_media(reduced_motion="reduce")
    page.goto(demo_stack.url + "/")
    launcher = page.locator(f"{WIDGET} .launcher")

    style = launcher.evaluate(
        "b => { const s = getComputedStyle(b); return [s.backgroundColor, s.color, s.transitionDuration]; }"
    )

    # The demo page's data-color="#2f5d50", with white text for contrast; no animation.
    assert style == ["rgb(47, 93, 80)", "rgb(255, 255, 255)", "0s"]
    page.emulate_media(reduced_motion="no-preference")
    assert launcher.evaluate("b => getComputedStyle(b).transitionDuration") != "0s"


def test_bot_text_is_rendered_as_text_never_as_markup(page: Page, demo_stack: DemoStack) -> None:
    if demo_stack.assistant is None:
        pytest.skip("needs the Rasa stand-in to answer with markup")
    page.goto(demo_stack.url + "/")
    open_with_keyboard(page)

    ask(page, "show me markup")

    reply = chat_log(page).locator(".msg.bot").last
    expect(reply).to_contain_text('<img src=x onerror="window.__xss=1"><b>bold</b>')
    assert reply.locator("img, b").count() == 0
    assert page.evaluate("window.__xss") is None
    links = reply.get_by_role("link")
    expect(links).to_have_count(1)
    expect(links).to_have_attribute("href", "https://shop.example/help")


def test_signing_out_starts_a_fresh_conversation(page: Page, demo_stack: DemoStack) -> None:
    sign_in(page, demo_stack, "C001")
    open_with_keyboard(page)
    ask(page, ORDER_QUESTION)
    expect(chat_log(page).locator(".msg.bot")).to_contain_text(ORDER_ANSWER)
    signed_in_answer = chat_log(page).locator(".msg.bot .text").text_content()
    first_session = stored_session(page)
    assert first_session

    page.keyboard.press("Escape")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    open_with_keyboard(page)

    # A new session from the gateway, and none of Amelia's conversation on screen.
    page.wait_for_function(
        "([key, old]) => { const r = JSON.parse(localStorage.getItem(key) || '{}');"
        " return r.session && r.session !== old; }",
        arg=[storage_key(demo_stack), first_session],
    )
    page.wait_for_timeout(300)
    assert bubbles(page) == []
    ask(page, ORDER_QUESTION)
    anonymous_answer = chat_log(page).locator(".msg.bot, .msg.system").first
    expect(anonymous_answer).to_be_visible()
    # Signed out, the same question must not get the signed-in customer's order details.
    assert anonymous_answer.locator(".text").text_content() != signed_in_answer
    if demo_stack.assistant is not None:
        expect(anonymous_answer).to_contain_text("once I know it's you")


def test_messages_typed_while_offline_are_sent_once_after_reconnecting(page: Page, demo_stack: DemoStack) -> None:
    if demo_stack.gateway is None:
        pytest.skip("needs the in-process gateway, to stop and start it")
    sign_in(page, demo_stack, "C001")
    open_with_keyboard(page)
    ask(page, "hello")
    expect(chat_log(page).locator(".msg.bot")).to_have_count(1)

    demo_stack.gateway.stop()
    expect(page.locator(f"{WIDGET} .status")).to_have_text("reconnecting…")
    ask(page, ORDER_QUESTION)
    pending = chat_log(page).locator(".msg.customer").last
    expect(pending).to_contain_text("sending…")
    demo_stack.gateway.start()

    expect(chat_log(page).locator(".msg.bot").last).to_contain_text(ORDER_ANSWER, timeout=40_000)
    expect(pending).not_to_contain_text("sending…")
    expect(page.locator(f"{WIDGET} .status")).to_have_text("")
    assert [b for b in bubbles(page) if b[0] == "customer"] == [("customer", "hello"), ("customer", ORDER_QUESTION)]
    assert stored_customer_messages(demo_stack, ORDER_QUESTION) == 1
    assert demo_stack.assistant is not None
    assert [c.message for c in demo_stack.assistant.calls].count(ORDER_QUESTION) == 1


def test_too_long_message_is_refused_in_the_browser_and_keeps_the_draft(page: Page, demo_stack: DemoStack) -> None:
    # Hold the history frame back, so the refusal is shown before history redraws the log.
    held: list[str | bytes] = []
    routes: list[WebSocketRoute] = []

    def hold_history(route: WebSocketRoute) -> None:
        server = route.connect_to_server()
        routes.append(route)
        server.on_message(lambda m: held.append(m) if '"history"' in str(m) else route.send(m))

    page.route_web_socket(re.compile(r"/ws/chat"), hold_history)
    page.goto(demo_stack.url + "/")
    open_with_keyboard(page)
    draft = "a" * 2001

    ask(page, draft)

    note = chat_log(page).locator(".msg.system")
    expect(note).to_contain_text("too long")
    expect(page.get_by_label("Type your message")).to_have_value(draft)
    for _ in range(50):
        if held:
            break
        page.wait_for_timeout(100)
    assert held, "the widget should have connected and been sent its history"
    routes[0].send(held[0])
    page.wait_for_timeout(300)
    expect(note).to_contain_text("too long")
    expect(page.get_by_label("Type your message")).to_have_value(draft)
    assert [b for b in bubbles(page) if b[0] == "customer"] == []


@pytest.mark.parametrize("gateway_overrides", [{"max_message_chars": 40}])
def test_too_long_message_refused_by_the_gateway_keeps_the_draft(page: Page, demo_stack: DemoStack) -> None:
    page.goto(demo_stack.url + "/")
    open_with_keyboard(page)
    draft = "Hello, I have a question about an order I placed last week."

    ask(page, draft)

    expect(chat_log(page).locator(".msg.system")).to_contain_text("too long")
    expect(page.get_by_label("Type your message")).to_have_value(draft)
    assert [b for b in bubbles(page) if b[0] == "customer"] == []
    # The conversation goes on.
    ask(page, "hello")
    expect(chat_log(page).locator(".msg.bot")).to_contain_text("didn't get that")


def test_screenshots_desktop_and_phone(browser: Browser, demo_stack: DemoStack) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for name, viewport, mobile in (
        ("widget.png", {"width": 1280, "height": 800}, False),
        ("widget-phone.png", {"width": 390, "height": 844}, True),
    ):
        context = browser.new_context(viewport=viewport, is_mobile=mobile, has_touch=mobile)
        page = context.new_page()
        try:
            sign_in(page, demo_stack, "C001")
            page.get_by_role("button", name="Open chat").click()
            ask(page, ORDER_QUESTION)
            expect(chat_log(page).locator(".msg.bot").last).to_contain_text(ORDER_ANSWER)
            panel = page.get_by_role("dialog").bounding_box()
            assert panel is not None
            if mobile:
                # Full screen on a phone.
                assert (panel["x"], panel["y"], panel["width"], panel["height"]) == (0, 0, 390, 844)
            else:
                assert panel["width"] < 500 and panel["x"] + panel["width"] <= 1280
            page.screenshot(path=str(SCREENSHOTS / name))
        finally:
            context.close()
        assert (SCREENSHOTS / name).stat().st_size > 10_000
