"""The insights page in real headless Chromium, on a laptop and a phone, with screenshots kept
under var/reports/ (insights-laptop.png, insights-phone.png) for people to look at."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from crm.models import Conversation, Feedback, Handoff, HandoffStatus, Message, Sender, StaffRole
from crm.settings import PROJECT_ROOT
from tests.bot.staff_support import PASSWORD, create_staff, staff_email
from tests.fakes.browser import new_page

REPORTS = PROJECT_ROOT / "var" / "reports"
INTENTS = ["track_order", "return_policy", "delivery_info", "change_address", "cancel_order", "complaint"]
NOV = "start=2026-11-01&end=2026-11-21"


@pytest.fixture
def seeded(db: sessionmaker[Session]) -> Iterator[int]:
    rng = random.Random(13)
    agents = [create_staff(db, name=n) for n in ("Sam Carter", "Priya Nair")]
    admin = create_staff(db, name="Olive Owner", role=StaffRole.admin)
    with db() as session:
        for n in range(240):
            at = datetime(2026, 11, 1, 7, tzinfo=UTC) + timedelta(days=n % 21, hours=rng.randint(0, 15))
            cid = f"b{n}"
            session.add(Conversation(id=cid, channel=rng.choice(["web", "web", "telegram", "sms"]), created_at=at))
            session.flush()
            for k in range(rng.randint(1, 3)):
                intent = rng.choice(INTENTS + ["nlu_fallback", "greet"])
                session.add(Message(conversation_id=cid, channel="web", sender=Sender.customer, text="x",
                                    intent=intent, created_at=at + timedelta(seconds=k)))  # fmt: skip
            staff = None
            if rng.random() < 0.3:
                staff = rng.choice(agents)
                taken = at + timedelta(minutes=rng.randint(1, 40))
                session.add(Handoff(conversation_id=cid, reason=rng.choice(["request_human", "complaint", "fallback"]),
                                    status=HandoffStatus.resolved, created_at=at, assigned_at=taken,
                                    resolved_at=taken + timedelta(minutes=rng.randint(3, 30)),
                                    assigned_to_id=staff, resolved_by_id=staff))  # fmt: skip
            if rng.random() < 0.5:
                session.add(Feedback(conversation_id=cid, kind="csat", score=rng.choice([1, 3, 4, 5, 5]),
                                     staff_user_id=staff, created_at=at + timedelta(minutes=50)))  # fmt: skip
            if rng.random() < 0.2:
                session.add(Feedback(conversation_id=cid, kind="nps", score=rng.randint(3, 10),
                                     comment=rng.choice([None, "Quick and friendly", "Delivery was slow"]),
                                     created_at=at + timedelta(minutes=55)))  # fmt: skip
        session.commit()
    yield admin


@pytest.mark.parametrize(("device", "width", "height"), [("laptop", 1280, 900), ("phone", 390, 844)])
def test_insights_page_in_a_browser(
    browser: Browser,
    console_url: str,
    db: sessionmaker[Session],
    seeded: int,
    device: str,
    width: int,
    height: int,
) -> None:
    errors: list[str] = []
    page = new_page(browser, errors)
    page.set_viewport_size({"width": width, "height": height})
    page.goto(f"{console_url}/staff/sign-in?next=/staff/insights%3F{NOV.replace('&', '%26')}")
    page.get_by_label("Email").fill(staff_email(db, seeded))
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Insights", exact=True)).to_be_visible()

    chart = page.get_by_role("img", name="Conversations per day")
    expect(chart).to_be_visible()
    box = page.locator(".chart-wrap").first.bounding_box()
    assert box is not None and box["width"] <= width
    assert page.locator("#chart-conversations rect").count() > 21
    expect(page.get_by_role("img", name="Wait for a person by hour of day, in minutes")).to_be_visible()

    definition = page.locator(".kpi", has_text="Contained").locator("details")
    definition.locator("summary").click()
    expect(definition.get_by_text("ended without a person")).to_be_visible()

    REPORTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(REPORTS / f"insights-{device}.png"), full_page=True)
    chart.scroll_into_view_if_needed()
    page.screenshot(path=str(REPORTS / f"insights-{device}-chart.png"))
    # Nothing wider than the screen (tables scroll inside their own box).
    wide = page.evaluate(
        "[...document.querySelectorAll('main *')].filter(e => !e.parentElement.closest('.table-wrap, .chart-wrap'))"
        ".filter(e => e.getBoundingClientRect().right > innerWidth + 1)"
        ".slice(0, 8).map(e => e.tagName)"
    )
    assert wide == []
    assert page.evaluate("document.documentElement.scrollWidth") <= width

    page.locator("select[name=channel]").select_option("sms")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_text("SMS only")).to_be_visible()
    assert "channel=sms" in page.url
    assert errors == []


def test_review_queue_labels_in_one_click(
    browser: Browser,
    console_url: str,
    db: sessionmaker[Session],
) -> None:
    from crm.models import ReviewItem
    from crm.services import review

    admin = create_staff(db, name="Olive Owner", role=StaffRole.admin)
    with db() as session:
        session.add(Conversation(id="rv1", channel="web"))
        session.flush()
        message = Message(conversation_id="rv1", channel="web", sender=Sender.customer,
                          text="where's order 10432? mail me at ada@example.com")  # fmt: skip
        session.add(message)
        session.flush()
        review.record_reading(session, message_id=message.id, intent="nlu_fallback", confidence=0.2,
                              ranking=[["nlu_fallback", 0.2], ["track_order", 0.18]], threshold=0.5)  # fmt: skip
        session.commit()
    errors: list[str] = []
    page = new_page(browser, errors)
    page.goto(f"{console_url}/staff/sign-in?next=/staff/review")
    page.get_by_label("Email").fill(staff_email(db, admin))
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("where's order [order]? mail me at [email]")).to_be_visible()
    REPORTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(REPORTS / "review-queue.png"), full_page=True)
    page.get_by_role("button", name="track order").click()
    expect(page.get_by_text("Saved. Thank you.")).to_be_visible()
    expect(page.get_by_text("Nothing to review.")).to_be_visible()
    with db() as session:
        item = session.scalars(select(ReviewItem)).one()
        assert (item.status, item.chosen_intent) == ("reviewed", "track_order")
    assert errors == []
