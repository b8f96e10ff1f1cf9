"""The Telegram channel (python-telegram-bot 22): a private chat with the shop's bot.

Inbound, by webhook (`/webhooks/telegram`, `bot/routers/telegram.py`) or by
polling (`polling`), each text or button press becomes at most one
`InboundMessage`, handed in through the intake service (`bot.intake`) like
every channel's; the conversation is found by the chat id. Outbound
(`channel`), replies go out with `sendMessage` (split at Telegram's
4,096-character limit), buttons as an inline keyboard whose callback data is
`b:<stored message id>:<index>`, because callback data is limited to 64 bytes
and payloads are not. A staff reply Telegram refuses raises NotDelivered.

Verification (`events`), both out of a stranger's reach:
- the customer shares their own phone number with Telegram's contact button;
  Telegram vouches that the contact's `user_id` is the sender's, and the number
  is matched to the CRM;
- the website hands a verified customer a signed, expiring deep link
  `https://t.me/<bot>?start=<token>` (`links`, `GET /telegram/link`).
Either way the Telegram user id is linked to the customer (a ChannelIdentity),
so later chats are verified at once.

/start, deep links, shared contacts, stickers, photos, voice notes, locations
and edits get an answer from the channel itself, recorded in the transcript
and claimed once in the database; they never reach the assistant. Group chats
are not served (a command there is answered once with a pointer to a private chat).

Modules: `channel` (the adapter), `events` (updates it answers itself),
`wire` (update parsing, splitting, keyboards), `links` (deep-link tokens),
`texts` (what it says), `polling`, `setup` (start-up from settings).
"""

from bot.channels.telegram.channel import CHANNEL, SECRET_HEADER, WEBHOOK_PATH, TelegramChannel
from bot.channels.telegram.links import DeepLink, LinkTokenError, link_token, read_link_token
from bot.channels.telegram.polling import ALLOWED_UPDATES
from bot.channels.telegram.setup import open_channel
from bot.channels.telegram.texts import (
    CHOOSE,
    EDITED,
    GROUP_CHAT,
    LINK_EXPIRED,
    LINK_INVALID,
    LINK_USED,
    LINKED,
    LINKED_ELSEWHERE,
    NO_MATCH,
    NON_TEXT,
    NOT_OWN_CONTACT,
    SHARE_PHONE_BUTTON,
    VERIFIED,
    WELCOME,
    WELCOME_BACK,
    WELCOME_VERIFY,
)
from bot.channels.telegram.wire import TEXT_LIMIT, split_text

__all__ = [
    "ALLOWED_UPDATES",
    "CHANNEL",
    "CHOOSE",
    "EDITED",
    "GROUP_CHAT",
    "LINKED",
    "LINKED_ELSEWHERE",
    "LINK_EXPIRED",
    "LINK_INVALID",
    "LINK_USED",
    "NON_TEXT",
    "NOT_OWN_CONTACT",
    "NO_MATCH",
    "SECRET_HEADER",
    "SHARE_PHONE_BUTTON",
    "TEXT_LIMIT",
    "VERIFIED",
    "WEBHOOK_PATH",
    "WELCOME",
    "WELCOME_BACK",
    "WELCOME_VERIFY",
    "DeepLink",
    "LinkTokenError",
    "TelegramChannel",
    "link_token",
    "open_channel",
    "read_link_token",
    "split_text",
]
