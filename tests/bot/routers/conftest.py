"""Fixtures of the HTTP router tests (tests/bot/routers/): what each router accepts and refuses at the door.

A real gateway comes from `start_gateway`/`gateway` (tests/bot/conftest.py) with `fake_rasa`; SMS
routes take `twilio`, Telegram routes `start_tg_gateway`, `tg`, `fake` and `ada`, and the staff pages
`console_url` and `browser`; the staff routers have their own conftest in routers/staff/.
"""
