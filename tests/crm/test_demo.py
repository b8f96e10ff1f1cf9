"""crm.demo and crm.demo_gen: the demo shop."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm.clock import as_utc, utcnow
from crm.demo import seed_demo
from crm.models import (
    ChannelIdentity,
    Customer,
    Order,
    OrderStatus,
    Product,
    ReturnRequest,
    ReturnStatus,
)
from crm.normalize import normalize_phone
from crm.services import (
    can_change,
    can_return,
    customer_segment,
    find_customer_by_channel_identity,
    get_customer_by_external_id,
    get_order_for_customer,
    latest_open_order,
)
from tests.factories import make_customer

TODAY = date(2031, 3, 12)
LONDON = ZoneInfo("Europe/London")
# Noon on seeding day: what "now" is for the assertions below.
NOW = datetime.combine(TODAY, time(12), tzinfo=LONDON).astimezone(timezone.utc)


@pytest.fixture
def demo(session: Session) -> Session:
    assert seed_demo(session, today=TODAY) is True
    return session


def _customer(session: Session, external_id: str) -> Customer:
    customer = get_customer_by_external_id(session, external_id=external_id)
    assert customer is not None
    return customer


def test_volume_and_variety(demo: Session) -> None:
    customers = demo.scalars(select(Customer)).all()
    assert len(customers) >= 24
    assert len({c.last_name for c in customers}) == len(customers)
    assert all(re.fullmatch(r"[a-z.]+@example\.(com|org)", c.email or "") for c in customers)
    phones = [c.phone for c in customers if c.phone]
    assert len(phones) >= 12 and all(normalize_phone(p) == p for p in phones)
    assert demo.scalar(select(func.count(ChannelIdentity.id)).where(ChannelIdentity.channel == "telegram")) >= 3
    assert demo.scalar(select(func.count(Order.id))) >= 70
    assert demo.scalar(select(func.count(Product.id))) >= 15
    assert {s for s in demo.scalars(select(Order.status).distinct())} == set(OrderStatus)
    carriers = set(demo.scalars(select(Order.carrier).where(Order.carrier.is_not(None))))
    assert carriers == {"Royal Mail", "DPD", "DHL", "Evri"}
    for order in demo.scalars(select(Order).where(Order.status.in_([OrderStatus.shipped, OrderStatus.delivered]))):
        assert order.carrier and order.tracking_number and order.shipped_at is not None
        assert order.lines and order.total > 0
    assert all(as_utc(o.placed_at) < NOW for o in demo.scalars(select(Order)))
    segments = [customer_segment(demo, customer=c, now=NOW) for c in customers]
    assert segments.count("vip") >= 2 and segments.count("new") >= 2 and segments.count("returning") >= 10


def test_returns(demo: Session) -> None:
    returns = demo.scalars(select(ReturnRequest).order_by(ReturnRequest.created_at)).all()
    assert len(returns) >= 2
    assert {r.order.status for r in returns} == {OrderStatus.returned}
    assert ReturnStatus.refunded in {r.status for r in returns}
    assert all(re.fullmatch(r"R-[A-Z2-9]{6}", r.reference) and r.amount == r.order.total for r in returns)


def test_amelia_and_her_shipped_order(demo: Session) -> None:
    amelia = _customer(demo, "C001")
    assert (amelia.first_name, amelia.last_name, amelia.email, amelia.phone) == (
        "Amelia", "Hughes", "amelia.hughes@example.com", "+447700900101",
    )
    order = get_order_for_customer(demo, customer=amelia, order_number="1043")
    assert order is not None and order.status == OrderStatus.shipped
    assert order.carrier == "Royal Mail" and order.tracking_number
    assert timedelta(days=1) <= NOW - as_utc(order.shipped_at) <= timedelta(days=7)  # type: ignore[arg-type]
    assert latest_open_order(demo, customer=amelia) is order
    older = [o for o in amelia.orders if o.number != "1043"]
    assert len([o for o in older if o.status == OrderStatus.delivered]) >= 3
    assert all(as_utc(o.placed_at) < as_utc(order.placed_at) for o in older)
    assert customer_segment(demo, customer=amelia, now=NOW) == "returning"


def test_oliver_can_cancel_1044_and_return_1040(demo: Session) -> None:
    oliver = _customer(demo, "C002")
    assert (oliver.first_name, oliver.last_name, oliver.email, oliver.phone) == (
        "Oliver", "Bennett", "oliver.bennett@example.com", "+447700900102",
    )
    paid = get_order_for_customer(demo, customer=oliver, order_number="1044")
    assert paid is not None and paid.status == OrderStatus.paid and can_change(paid)
    delivered = get_order_for_customer(demo, customer=oliver, order_number="1040")
    assert delivered is not None and delivered.status == OrderStatus.delivered
    assert can_return(delivered, now=NOW)
    assert NOW - as_utc(delivered.delivered_at) < timedelta(days=15)  # type: ignore[arg-type]


def test_sophie_is_vip_callum_is_new_lukas_has_telegram(demo: Session) -> None:
    sophie = _customer(demo, "C003")
    assert (sophie.first_name, sophie.last_name) == ("Sophie", "Turner")
    assert customer_segment(demo, customer=sophie, now=NOW) == "vip"
    assert len(sophie.orders) >= 5 and sum(o.total for o in sophie.orders) >= 1000
    callum = _customer(demo, "C004")
    assert len(callum.orders) == 1 and customer_segment(demo, customer=callum, now=NOW) == "new"
    assert find_customer_by_channel_identity(demo, channel="telegram", external_user_id="5550001") is _customer(demo, "C005")


def test_seeding_twice_does_nothing(demo: Session) -> None:
    orders = demo.scalar(select(func.count(Order.id)))
    assert seed_demo(demo, today=TODAY) is False
    assert demo.scalar(select(func.count(Order.id))) == orders


def test_no_seeding_into_a_crm_with_customers(session: Session) -> None:
    make_customer(session)
    assert seed_demo(session) is False
    assert session.scalar(select(func.count(Customer.id))) == 1
    assert session.scalar(select(func.count(Order.id))) == 0


def test_seeding_today_keeps_1043_recent(session: Session) -> None:
    assert seed_demo(session) is True
    amelia = _customer(session, "C001")
    order = get_order_for_customer(session, customer=amelia, order_number="1043")
    assert order is not None
    assert timedelta(0) < utcnow() - as_utc(order.shipped_at) <= timedelta(days=7)  # type: ignore[arg-type]


def test_same_day_same_data(session: Session) -> None:
    seed_demo(session, today=TODAY)
    first = [(o.number, as_utc(o.placed_at), o.total) for o in session.scalars(select(Order).order_by(Order.number))]
    references = sorted(session.scalars(select(ReturnRequest.reference)))
    session.rollback()
    seed_demo(session, today=TODAY)
    assert [(o.number, as_utc(o.placed_at), o.total) for o in session.scalars(select(Order).order_by(Order.number))] == first
    assert sorted(session.scalars(select(ReturnRequest.reference))) == references


def test_every_seeded_customer_is_a_demo_row_and_imports_are_not(demo: Session) -> None:
    from crm.demo import real_customer_count
    from crm.models import Customer
    from sqlalchemy import select

    assert all(demo.scalars(select(Customer.is_demo)).all())
    assert real_customer_count(demo) == 0
    demo.add(Customer(external_id="SHOP-1", first_name="Real", last_name="", email="real@shop.example"))
    demo.flush()
    assert real_customer_count(demo) == 1


def test_a_shop_import_over_a_demo_id_makes_that_row_real(demo: Session, tmp_path) -> None:
    from crm.importer import import_customers
    from crm.models import Customer
    from sqlalchemy import select

    csv = tmp_path / "customers.csv"
    csv.write_text(
        "customer_id,first_name,last_name,email,phone,telegram_user_id,locale,marketing_opt_in\n"
        "C001,Real,Shopper,real.shopper@shop.example,,,en,no\n"
    )
    report = import_customers(demo, csv)
    assert not report.rejected
    demo.expire_all()
    row = demo.scalars(select(Customer).where(Customer.external_id == "C001")).one()
    assert row.is_demo is False
    assert demo.scalars(select(Customer).where(Customer.external_id == "C002")).one().is_demo is True
