"""Hello. A verified customer hears their first name and, if they have one,
about their latest open order (most people who write in are asking about
it); everyone else gets a warm menu of what the bot can do."""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import crm_session, verified_customer
from actions.orders.words import YES_NO, order_progress
from crm.services.customers import customer_segment
from crm.services.orders import latest_open_order
from crm.shop import load_shop_profile

GREET_ANONYMOUS = (
    "Hi there, welcome to {shop}! I can track an order, help with returns and refunds, answer "
    "questions about delivery and payment, or put you in touch with our team. What can I do "
    "for you?"
)
GREET_WITH_ORDER = "Hi {first_name}! Your order #{number} {progress} — is that what you're asking about?"
GREET_RETURNING = "Hi {first_name}, good to see you again! How can I help today?"
GREET_NEW = "Hi {first_name}, welcome to {shop}! How can I help today?"

ANONYMOUS_BUTTONS = [
    {"title": "Where's my order?", "payload": "/track_order"},
    {"title": "Returns & refunds", "payload": "/return_policy"},
    {"title": "Delivery info", "payload": "/delivery_info"},
    {"title": "Talk to a person", "payload": "/request_human"},
]
CUSTOMER_BUTTONS = [
    {"title": "My recent orders", "payload": "/order_history"},
    {"title": "Return something", "payload": "/request_refund"},
    {"title": "Recommend something", "payload": "/recommend"},
    {"title": "Talk to a person", "payload": "/request_human"},
]


class ActionGreet(Action):
    def name(self) -> str:
        return "action_greet"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        shop = load_shop_profile().name
        with crm_session() as session:
            customer = verified_customer(session, tracker)
            if customer is None:
                dispatcher.utter_message(
                    text=GREET_ANONYMOUS.format(shop=shop), buttons=ANONYMOUS_BUTTONS
                )
                return [SlotSet("awaiting", None)]
            order = latest_open_order(session, customer=customer)
            if order is not None:
                text = GREET_WITH_ORDER.format(
                    first_name=customer.first_name, number=order.number, progress=order_progress(order)
                )
                dispatcher.utter_message(text=text, buttons=YES_NO)
                # "Yes" then means this order: the rules run the status action,
                # which reads the order number slot.
                return [
                    SlotSet("awaiting", "order_offer"),
                    SlotSet("order_in_question", order.number),
                    SlotSet("order_number", order.number),
                ]
            if customer_segment(session, customer=customer) == "new":
                text = GREET_NEW.format(first_name=customer.first_name, shop=shop)
            else:
                text = GREET_RETURNING.format(first_name=customer.first_name)
            dispatcher.utter_message(text=text, buttons=CUSTOMER_BUTTONS)
            return [SlotSet("awaiting", None)]
