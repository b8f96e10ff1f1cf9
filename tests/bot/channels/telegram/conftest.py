"""Fixtures of the Telegram adapter tests (tests/bot/channels/telegram/).

The real python-telegram-bot client talks to the fake Bot API (`fake_tg`, tests/fakes/telegram.py)
through a gateway made by `start_tg_gateway`; `tg` is that gateway, `fake` the fake API's record and
`ada` a linked customer: all in tests/bot/conftest.py, because the Telegram router tests use them too.
"""
