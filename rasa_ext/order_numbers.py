"""Rasa component: keep an `order_number` entity only where it is one.

The spaCy EntityRuler (rasa_ext/spacy_pipeline.py) proposes every run of 3-8
digits, because customers write order numbers in many ways. Most numbers in a
longer message are something else: "$120", "299 dollars", "2 items", "since
2023", "on 12 March". This component sits after the extractors and keeps a
proposed order number only when

- it is marked as one: "#1044", "order 1044", "order no. 1044", "order number
  is 1044", "no. 1044", "ref 1044", "parcel 1044"; or
- the message is hardly more than the number ("1044", "it's 1044", "1044 i
  think"), or gives it with an e-mail address: the answer to the bot's
  question for it. Inside the verification
  form the typed answer is also read as the slot value (actions/identity.py).

A number that reads as money, a quantity, a date or a year is dropped even
when it is short ("$120", "£45", "3 items"), marked or not.
"""

from __future__ import annotations

import re

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.nlu.constants import ENTITIES, ENTITY_ATTRIBUTE_TYPE, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from rasa_ext.component import ProjectComponent

ORDER_NUMBER = "order_number"

_MONTHS = (
    r"jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?"
)
_CURRENCY_WORDS = (
    r"dollars?|bucks|usd|us\$|eur|euros?|gbp|pounds?|quid|pence|cents?|aud|cad|chf|k\b|grand"
)
_UNITS = (
    r"items?|pieces?|pcs|units?|pairs?|packs?|boxes|bags?|sets?|mugs?|cups?|"
    r"days?|weeks?|months?|years?|yrs?|hours?|hrs?|minutes?|mins?|seconds?|"
    r"times|x\b|%|percent|per\s*cent|km|kms|miles?|kg|g\b|grams?|ml|l\b|cm|mm|inch(?:es)?|"
    r"points?|stars?|calories|words"
)

# Text just before the number: a currency sign or code ("$120", "usd 120").
_MONEY_BEFORE = re.compile(r"(?:[$£€¥]|\b(?:usd|eur|gbp|us\$|aud|cad|chf))\s*$", re.I)
# Text just after: a currency word, decimals of money or a unit ("120.50", "2 items").
_AFTER = re.compile(rf"^(?:[.,]\d{{1,2}}\b|\s*(?:{_CURRENCY_WORDS}|{_UNITS})(?![a-z]))", re.I)
# Words that say money is meant: "paid 120", "a refund of 120", "cost me 299".
_MONEY_WORDS_BEFORE = re.compile(
    r"\b(?:paid|pay|paying|charged?|charging|cost|costs|costing|spent|spend|worth|priced?|"
    r"total(?:ling|ing)?|amount(?:ing)?(?:\s+to)?|sum\s+of|refund\s+of|credit\s+of|"
    r"reimbursement\s+of|balance\s+of|fee\s+of|owe(?:s|d)?(?:\s+me)?)\s*(?:me|us|you)?\s*(?:about|around|over|almost|nearly)?\s*$",
    re.I,
)
_MONTH_BEFORE = re.compile(rf"\b(?:{_MONTHS})\.?\s*(?:\d{{1,2}}(?:st|nd|rd|th)?,?\s*)?$", re.I)
_MONTH_AFTER = re.compile(rf"^\s*(?:of\s+)?(?:{_MONTHS})\b", re.I)
_YEAR = re.compile(r"^(?:19|20)\d\d$")
_YEAR_WORDS_BEFORE = re.compile(r"\b(?:in|since|from|of|until|till|before|after|during|year)\s*$", re.I)
# Words that mark a number as an order number, right before it.
_MARKER_BEFORE = re.compile(
    r"(?:#|\b(?:order|orders|purchase|parcel|package|shipment|delivery|invoice|ref|reference|"
    r"confirmation|no|nr|num|number|id)\b\.?)\s*(?:(?:no|nr|num|number|id)\b\.?\s*)?"
    r"(?:is|was|=)?\s*[#:]?\s*$",
    re.I,
)
# At most this many other words for a bare number to count as an answer.
_MAX_WORDS_AROUND_BARE_NUMBER = 3


def _words(text: str) -> list[str]:
    return re.findall(r"[\w']+", text)


def is_order_number(text: str, start: int, end: int) -> bool:
    """Whether text[start:end], proposed as an order number, is one in context."""
    value = text[start:end]
    digits = value.lstrip("#").strip()
    before, after = text[:start], text[end:]
    if _MONEY_BEFORE.search(before) or _AFTER.search(after):
        return False
    if _MONTH_BEFORE.search(before) or _MONTH_AFTER.search(after):
        return False
    if _YEAR.match(digits) and _YEAR_WORDS_BEFORE.search(before):
        return False
    if value.startswith("#") or _MARKER_BEFORE.search(before):
        return True
    if _MONEY_WORDS_BEFORE.search(before):
        return False
    # With an e-mail address beside it, the customer is identifying an order.
    if "@" in text:
        return True
    return len(_words(before)) + len(_words(after)) <= _MAX_WORDS_AROUND_BARE_NUMBER


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False)
class OrderNumberFilter(ProjectComponent):
    """Drops `order_number` entities that the context says are something else."""

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        # Training examples are annotated by hand: nothing to drop.
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            text = message.get(TEXT)
            entities = message.get(ENTITIES)
            if not text or not entities:
                continue
            kept = [
                entity
                for entity in entities
                if entity.get(ENTITY_ATTRIBUTE_TYPE) != ORDER_NUMBER
                or is_order_number(text, entity["start"], entity["end"])
            ]
            if len(kept) != len(entities):
                message.set(ENTITIES, kept, add_to_output=True)
        return messages
