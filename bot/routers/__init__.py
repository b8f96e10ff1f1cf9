"""One router per resource, included by `bot.app.create_app`."""
