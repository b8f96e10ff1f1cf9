"""Suggestions: co-purchases for a verified customer, best sellers for anyone else."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from actions.recommend import ActionRecommend
from tests.actions.tracker_support import (
    make_tracker,
    run_action,
    texts,
)
from tests.factories import make_customer, make_order

pytestmark = pytest.mark.usefixtures("crm")


@pytest.fixture
def shop(session: Session) -> None:
    """Mug buyers also buy the tea sampler; the candle sells most overall."""
    for n in range(3):
        other = make_customer(session, external_id=f"CR-O{n}")
        lines = [("Rec Blue Mug", 1, "12.00"), ("Rec Tea Sampler", 1, "18.50")]
        make_order(session, customer=other, lines=lines)
    fan = make_customer(session, external_id="CR-FAN")
    make_order(session, customer=fan, lines=[("Rec Candle", 9, "9.95")])
    me = make_customer(session, external_id="CR-ME")
    make_order(session, customer=me, lines=[("Rec Blue Mug", 1, "12.00")])


@pytest.mark.usefixtures("shop")
def test_a_verified_customer_hears_why(session: Session) -> None:
    tracker = make_tracker(text="what should i buy", intent="recommend", metadata={"customer_id": "CR-ME"})
    _, messages = run_action(ActionRecommend(), tracker)
    said = texts(messages)
    assert said.startswith("Based on what you've bought before")
    assert "• Rec Tea Sampler (£18.50) — because you bought the Rec Blue Mug" in said
    # They already have the mug: never suggested back.
    assert "• Rec Blue Mug" not in said


@pytest.mark.usefixtures("shop")
def test_an_anonymous_visitor_gets_best_sellers_and_no_one_elses_history() -> None:
    _, messages = run_action(ActionRecommend(), make_tracker(text="any suggestions", intent="recommend"))
    said = texts(messages)
    assert said.startswith("Here are our best sellers")
    assert "because" not in said
    assert said.splitlines()[1] == "• Rec Candle (£9.95)"


@pytest.mark.usefixtures("shop")
def test_an_unverified_customer_id_claim_gets_best_sellers() -> None:
    tracker = make_tracker(
        text="what should i buy", intent="recommend", slots={"customer_id": "CR-ME", "verified": False}
    )
    _, messages = run_action(ActionRecommend(), tracker)
    assert "because you bought" not in texts(messages)


def test_a_new_customer_gets_best_sellers(session: Session) -> None:
    make_customer(session, external_id="CR-NEW")
    other = make_customer(session, external_id="CR-OLD")
    make_order(session, customer=other, lines=[("Rec Teapot", 2, "30.00")])
    tracker = make_tracker(text="gift ideas", intent="recommend", metadata={"customer_id": "CR-NEW"})
    _, messages = run_action(ActionRecommend(), tracker)
    said = texts(messages)
    assert said.startswith("Here are our best sellers")
    assert "• Rec Teapot (£30.00)" in said
