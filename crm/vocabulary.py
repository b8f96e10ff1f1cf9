"""Plain enums shared by the CRM schema and the gateway's neutral message types.

No SQLAlchemy here: `bot.core.messages` imports these without depending on the ORM;
`crm.models` imports them for its columns.
"""

from __future__ import annotations

import enum


class ConversationState(str, enum.Enum):
    bot = "bot"
    queued = "queued"
    assigned = "assigned"
    resolved = "resolved"


class Sender(str, enum.Enum):
    customer = "customer"
    bot = "bot"
    agent = "agent"
    system = "system"
