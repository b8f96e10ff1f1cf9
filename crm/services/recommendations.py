"""Product suggestions: "customers who bought what you bought also bought"."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session, aliased

from crm.models import Customer, Order, OrderLine, OrderStatus, Product


@dataclass(frozen=True)
class Recommendation:
    product_name: str
    # A product the customer bought, for "because you bought ..."; None for a best seller.
    because: str | None = None


def _bought_product_ids(session: Session, customer: Customer) -> set[int]:
    return set(
        session.scalars(
            select(OrderLine.product_id)
            .join(Order)
            .where(Order.customer_id == customer.id, Order.status != OrderStatus.cancelled)
        )
    )


def recommend(session: Session, *, customer: Customer | None, limit: int = 3) -> list[Recommendation]:
    """Co-purchases first, then best sellers to fill up; never what they already have.

    Customers with no purchases (and anonymous visitors) get best sellers only.
    """
    if limit <= 0:
        return []
    owned = _bought_product_ids(session, customer) if customer is not None else set()
    picks: list[Recommendation] = []
    if owned and customer is not None:
        picks = _co_purchases(session, customer, owned, limit)
    taken = owned | set(
        session.scalars(select(Product.id).where(Product.name.in_([p.product_name for p in picks])))
    )
    if len(picks) < limit:
        picks += [
            Recommendation(product_name=name)
            for name in _best_sellers(session, exclude=taken, limit=limit - len(picks))
        ]
    return picks


def _co_purchases(
    session: Session, customer: Customer, owned: set[int], limit: int
) -> list[Recommendation]:
    mine, theirs = aliased(OrderLine), aliased(OrderLine)
    my_order, their_order = aliased(Order), aliased(Order)
    owned_product, other_product = aliased(Product), aliased(Product)
    # For each (product they own, product someone else also bought) pair: how
    # many other customers bought both.
    pairs = session.execute(
        select(
            other_product.name,
            owned_product.name,
            func.count(distinct(my_order.customer_id)).label("buyers"),
        )
        .select_from(mine)
        .join(my_order, mine.order_id == my_order.id)
        .join(their_order, their_order.customer_id == my_order.customer_id)
        .join(theirs, theirs.order_id == their_order.id)
        .join(owned_product, owned_product.id == mine.product_id)
        .join(other_product, other_product.id == theirs.product_id)
        .where(
            mine.product_id.in_(owned),
            theirs.product_id.not_in(owned),
            my_order.customer_id != customer.id,
            my_order.status != OrderStatus.cancelled,
            their_order.status != OrderStatus.cancelled,
            other_product.active.is_(True),
        )
        .group_by(other_product.name, owned_product.name)
    ).all()
    best: dict[str, tuple[int, int, str]] = {}
    for product, because, buyers in pairs:
        total, top, reason = best.get(product, (0, 0, because))
        # Keep the strongest single reason; ties go to the alphabetically first.
        if buyers > top or (buyers == top and because < reason):
            top, reason = buyers, because
        best[product] = (total + buyers, top, reason)
    ranked = sorted(best.items(), key=lambda item: (-item[1][0], item[0]))
    return [Recommendation(product_name=name, because=reason) for name, (_, _, reason) in ranked[:limit]]


def _best_sellers(session: Session, *, exclude: set[int], limit: int) -> list[str]:
    sales = (
        select(OrderLine.product_id, func.sum(OrderLine.quantity).label("sold"))
        .join(Order)
        .where(Order.status != OrderStatus.cancelled)
        .group_by(OrderLine.product_id)
        .subquery()
    )
    stmt = (
        select(Product.name)
        .outerjoin(sales, sales.c.product_id == Product.id)
        .where(Product.active.is_(True))
        .order_by(func.coalesce(sales.c.sold, 0).desc(), Product.name)
        .limit(limit)
    )
    if exclude:
        stmt = stmt.where(Product.id.not_in(exclude))
    return list(session.scalars(stmt))
