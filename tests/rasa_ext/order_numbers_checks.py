"""Checks of rasa_ext/order_numbers.py (OrderNumberFilter) after the spaCy pipeline, run inside
`.venv-rasa` (tests/rasa_env/; test_order_numbers.py makes each a test).
"""

from __future__ import annotations

from tests.rasa_env.inside import run_checks
from tests.rasa_ext.pipeline_support import context

from rasa.engine.storage.resource import Resource  # noqa: E402
from rasa.shared.nlu.constants import TEXT  # noqa: E402
from rasa.shared.nlu.training_data.message import Message  # noqa: E402

from rasa_ext.order_numbers import OrderNumberFilter  # noqa: E402


# Message -> the order numbers it holds. Amounts, quantities, dates and phone
# numbers are not order numbers; every way of writing one is.
ORDER_NUMBER_CASES: dict[str, list[str]] = {
    "still waiting on a $120 reimbursement": [],
    "i was promised 299 dollars back": [],
    "refund of 120.50 please": [],
    "you owe me £45 for the return": [],
    "it cost 1299 and arrived broken": [],
    "i ordered 2 items on 12/03/2024": [],
    "i ordered 250 items for my cafe": [],
    "i bought it on 14 march 2024 and it broke": [],
    "it arrived on march 3rd 2025 damaged": [],
    "i've been a customer since 2019 and never had this": [],
    "call me on 07700 900123 about the refund": [],
    "my number is +44 7700 900123": [],
    "i waited in all day and the courier never showed up, it has been 120 minutes": [],
    "i paid 350 for this and want my money back now please": [],
    "#1044": ["1044"],
    "1044": ["1044"],
    "it's 1044": ["1044"],
    "1044 i think": ["1044"],
    "where is order 1044": ["1044"],
    "where is order #1044, it's late": ["1044"],
    "order no. 1044 never arrived and i'm furious about it": ["1044"],
    "my order number is 1044 and it never came, what is going on with you people": ["1044"],
    "can you check no. 1044 for me please, it has been two weeks": ["1044"],
    "refund order 2207 please, it was $120": ["2207"],
    "order 2207, email jo@example.com": ["2207"],
    "3051 and the email on it is mel@example.co.uk": ["3051"],
}


def _order_numbers(text: str) -> list[str]:
    """The spaCy pipeline's proposals, then the filter, as Rasa runs them."""
    from rasa.shared.nlu.constants import ENTITIES

    from rasa_ext.spacy_pipeline import build

    doc = build()(text)
    proposed = [
        {"entity": ent.label_, "start": ent.start_char, "end": ent.end_char, "value": ent.text}
        for ent in doc.ents
        if ent.label_ in ("order_number", "phone", "email")
    ]
    message = Message(data={TEXT: text, ENTITIES: proposed})
    OrderNumberFilter.create({}, None, Resource("orders"), context("orders")).process([message])
    return [
        e["value"].lstrip("#").strip() for e in message.get(ENTITIES) if e["entity"] == "order_number"
    ]


def check_order_numbers_are_what_they_look_like() -> None:
    wrong = {
        text: found
        for text, expected in ORDER_NUMBER_CASES.items()
        if (found := _order_numbers(text)) != expected
    }
    assert not wrong, wrong


def check_order_number_filter_keeps_other_entities() -> None:
    from rasa.shared.nlu.constants import ENTITIES

    entities = [
        {"entity": "product", "start": 9, "end": 15, "value": "teapot"},
        {"entity": "order_number", "start": 24, "end": 27, "value": "120"},
    ]
    message = Message(data={TEXT: "the big teapot cost me $120 and broke", ENTITIES: entities})
    OrderNumberFilter.create({}, None, Resource("orders"), context("orders")).process([message])
    assert [e["entity"] for e in message.get(ENTITIES)] == ["product"]


run_checks(globals())
