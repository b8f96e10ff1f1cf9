"""crm.services.recommendations: co-purchases, then best sellers."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy.orm import Session

from crm.services import Recommendation, recommend
from tests.factories import make_customer, make_order, make_product


@pytest.fixture
def shop(session: Session) -> dict[str, object]:
    """Tea buyers also buy teapots (twice) and mugs (once); the Candle sells most."""
    amy, ben, cat, dan, eve = (make_customer(session) for _ in range(5))
    make_order(session, customer=amy, lines=[("Tea", 1)])
    make_order(session, customer=ben, lines=[("Tea", 2), ("Teapot", 1)])
    make_order(session, customer=cat, lines=[("Tea", 1)])
    make_order(session, customer=cat, lines=[("Teapot", 1), ("Mug", 1)])
    make_order(session, customer=dan, lines=[("Candle", 9), ("Mug", 1)])
    # Cancelled and inactive things count for nothing.
    make_order(session, customer=eve, lines=[("Tea", 1), ("Skillet", 50)], status="cancelled")
    make_product(session, name="Old Stock", active=False)
    make_order(session, customer=eve, lines=[("Old Stock", 60)])
    return {"amy": amy, "ben": ben, "cat": cat, "dan": dan, "eve": eve}


def test_co_purchases_say_why(session: Session, shop: dict) -> None:
    assert recommend(session, customer=shop["amy"], limit=2) == [
        Recommendation(product_name="Teapot", because="Tea"),
        Recommendation(product_name="Mug", because="Tea"),
    ]


def test_never_recommends_what_they_have_and_fills_with_best_sellers(session: Session, shop: dict) -> None:
    picks = recommend(session, customer=shop["ben"], limit=3)
    # Cat bought Mug with both Tea and Teapot: a tie, settled alphabetically.
    assert picks[0] == Recommendation(product_name="Mug", because="Tea")
    names = [p.product_name for p in picks]
    assert "Tea" not in names and "Teapot" not in names
    assert picks[1:] == [Recommendation(product_name="Candle"), Recommendation(product_name="Skillet")]


def test_anonymous_and_new_customers_get_best_sellers(session: Session, shop: dict) -> None:
    expected = [Recommendation("Candle"), Recommendation("Tea"), Recommendation("Mug")]
    assert recommend(session, customer=None) == expected
    assert recommend(session, customer=make_customer(session)) == expected


def test_cancelled_orders_and_inactive_products_count_for_nothing(session: Session, shop: dict) -> None:
    names = [p.product_name for p in recommend(session, customer=None, limit=10)]
    assert "Old Stock" not in names
    assert names.index("Skillet") == len(names) - 1  # its only sale was cancelled


def test_limit(session: Session, shop: dict) -> None:
    assert len(recommend(session, customer=shop["amy"], limit=1)) == 1
    assert recommend(session, customer=shop["amy"], limit=0) == []


def test_empty_shop(session: Session) -> None:
    assert recommend(session, customer=None) == []


def test_recommendation_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        Recommendation("Mug").because = "Tea"  # type: ignore[misc]
