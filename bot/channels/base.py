"""Compatibility: the neutral message types moved to `bot.core.messages`.

Kept so that channel adapters importing from here keep working until their imports
are updated; it defines nothing of its own and imports no ORM.
"""

from bot.core.messages import (
    BotReply,
    Button,
    Channel,
    ConversationRef,
    DeliveryFailed,
    InboundMessage,
    OutboundMessage,
)

__all__ = [
    "BotReply",
    "Button",
    "Channel",
    "ConversationRef",
    "DeliveryFailed",
    "InboundMessage",
    "OutboundMessage",
]
