"""Product suggestions.

A verified customer hears what customers who bought the same things also
bought, and why ("because you bought the Blue Mug"). Anyone else — and a
customer with nothing to go on yet — gets our best sellers: no verification
needed, and nothing about anyone's purchases is revealed.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions.common import crm_session, verified_customer
from actions.shop_info import money
from crm.models import Product
from crm.services.recommendations import Recommendation, recommend

LIMIT = 3


def _line(rec: Recommendation, products: dict[str, Product]) -> str:
    product = products.get(rec.product_name)
    price = (
        f" ({money(product.price, product.currency)})"
        if product is not None and product.price is not None
        else ""
    )
    because = f" — because you bought the {rec.because}" if rec.because else ""
    return f"• {rec.product_name}{price}{because}"


class ActionRecommend(Action):
    def name(self) -> str:
        return "action_recommend"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        with crm_session() as session:
            customer = verified_customer(session, tracker)
            picks = recommend(session, customer=customer, limit=LIMIT)
            names = [rec.product_name for rec in picks]
            products = {
                p.name: p for p in session.scalars(select(Product).where(Product.name.in_(names)))
            }
            lines = [_line(rec, products) for rec in picks]

        if not picks:
            dispatcher.utter_message(
                text="I don't have any suggestions right now, sorry — our team is happy to help "
                "you choose, though."
            )
            return []
        if any(rec.because for rec in picks):
            intro = "Based on what you've bought before, you might like:"
        else:
            intro = "Here are our best sellers — popular with customers right now:"
        dispatcher.utter_message(text="\n".join([intro, *lines]))
        return []
