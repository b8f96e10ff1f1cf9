"""What the Telegram channel itself says (welcome, verification, refusals), as the customer reads it."""

from __future__ import annotations

SHARE_PHONE_BUTTON = "📱 Share my phone number"
WELCOME = (
    "Hi! I'm the shop's assistant. Ask me about your orders, returns, delivery or anything else — "
    "and you can ask for a person at any time."
)
WELCOME_VERIFY = (
    "If you'd like me to look up your orders, tap “Share my phone number” below: "
    "I'll match it with the number on your account."
)
WELCOME_BACK = "Welcome back! How can I help?"
VERIFIED = "Thanks — that's the number on your account, so I can help with your orders now."
NO_MATCH = (
    "Thanks — I couldn't find an account with that number. You can still ask me anything, "
    "or tell me your order number and the e-mail on the order so I can find it."
)
NOT_OWN_CONTACT = (
    "For your security I can only use your own number. Please tap “Share my phone number” "
    "instead of sending a contact."
)
LINKED_ELSEWHERE = (
    "This Telegram account is already linked to a different customer account, so I can't link it "
    "again. Please contact the shop if that's not right."
)
LINKED = "Done — your Telegram is now linked to your account with us. Ask me about your orders any time."
LINK_EXPIRED = "That link has expired. Please get a fresh one from our website and tap it again."
LINK_USED = "That link has already been used. Please get a fresh one from our website."
LINK_INVALID = "Sorry, that link isn't valid. Please get a fresh one from our website."
NON_TEXT = (
    "Sorry, I can only read text messages. Please type your question in words — "
    "and ask for a person if you need one."
)
EDITED = "I can't see changes to messages I've already read. Please send the corrected text as a new message."
GROUP_CHAT = (
    "I can only help in a private chat, so nobody else sees your details. Please message me directly."
)
CHOOSE = "Please choose:"
