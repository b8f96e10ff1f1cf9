"""Plain enums shared by the CRM schema and the gateway's neutral message types,
and `Vocabulary`, how a word-list enum is declared (here and in `crm.models`).

No SQLAlchemy here: `bot.core.messages` imports these without depending on the ORM;
`crm.models` imports them for its columns.
"""

from __future__ import annotations

import enum
from typing import Any


class Vocabulary(str, enum.Enum):
    """A closed set of words stored and sent as themselves: each member's value is its name.

    Declared as one line of words, `Vocabulary("OrderStatus", "placed paid ...",
    module=__name__)`, so no word is written twice. A word that is a Python
    keyword takes PEP 8's trailing underscore in its name only: `return_` is
    "return". Members behave exactly as a `(str, enum.Enum)` class's would.
    """

    @staticmethod
    def _generate_next_value_(name: str, start: int, count: int, last_values: list[Any]) -> str:
        return name.removesuffix("_")


ConversationState = Vocabulary("ConversationState", "bot queued assigned resolved", module=__name__)
Sender = Vocabulary("Sender", "customer bot agent system", module=__name__)
