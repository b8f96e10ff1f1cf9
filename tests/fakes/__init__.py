"""One stand-in for each thing outside the code under test, shared by every test package.

- rasa.py: Rasa and the action server over HTTP (`FakeRasa`, `HandoffRasa`).
- twilio.py: Twilio's REST API and a phone that texts the gateway.
- telegram.py: Telegram's Bot API and a user who writes to the bot.
- shop.py: the shop's endpoint for customers' requests.
- child.py: a supervised child process (for the supervisor's tests).
- widget.py: the browser tab's side of the widget protocol (frames, or turns).
- browser.py: Debian's Chromium under Playwright.
- rigs.py: the conversation service wired to the fakes, without HTTP.
- serving.py: a test's ASGI app on uvicorn and a free port (this loop, or a thread).
- gateway.py: the gateway app on a real port (on the test's loop or in a thread).
- stack.py: the real stack (model, Rasa, actions, gateway) for end-to-end tests.
"""
