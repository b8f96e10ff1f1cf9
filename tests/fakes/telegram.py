"""Telegram's Bot API faked for python-telegram-bot (~380 lines: its API and a user's updates, one fake).

`FakeTelegram` answers the methods the gateway calls (getMe, sendMessage,
sendPhoto, sendChatAction, answerCallbackQuery, setWebhook, deleteWebhook,
getUpdates with long polling, ...) the way api.telegram.org does, and records
every call. Tests can make a method fail (a blocked user, a flood wait) and
queue updates for polling. `TelegramUser` builds the updates Telegram would
send for one person in a private chat.

It serves on 127.0.0.1 on a free port, either in the test's event loop
(`serve`) or in a thread of its own (`serve_in_thread`, for the end-to-end
stack, whose gateway is another process).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.fakes.serving import served_here, served_in_thread

TOKEN = "123456:TEST-fake-telegram-token_abcdefghij"
BOT_ID = 123456
BOT_USERNAME = "shop_assistant_test_bot"

# Fields PTB sends JSON-encoded inside the form body.
_JSON_FIELDS = {"reply_markup", "allowed_updates", "entities", "link_preview_options", "reply_parameters"}
_MAX_POLL_SECONDS = 2.0


@dataclass(frozen=True)
class ApiCall:
    method: str
    params: dict[str, Any]
    at: float


@dataclass
class _Failure:
    status: int
    description: str
    retry_after: int | None
    times: int


@dataclass
class FakeTelegram:
    token: str = TOKEN
    username: str = BOT_USERNAME
    # Where it is served, once it is (TELEGRAM_API_BASE_URL).
    base_url: str = ""
    calls: list[ApiCall] = field(default_factory=list)
    _updates: list[dict[str, Any]] = field(default_factory=list)
    _failures: dict[str, _Failure] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _message_ids: Iterator[int] = field(default_factory=lambda: itertools.count(1000))

    # -- what the test controls ---------------------------------------------------

    def fail(
        self, method: str, *, status: int, description: str, retry_after: int | None = None, times: int = 1
    ) -> None:
        """The next `times` calls of `method` fail as Telegram would fail them."""
        with self._lock:
            self._failures[method] = _Failure(status, description, retry_after, times)

    def push_update(self, update: dict[str, Any]) -> None:
        """Queue an update for getUpdates (polling mode)."""
        with self._lock:
            self._updates.append(update)

    def pending_updates(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._updates)

    # -- what the test reads ------------------------------------------------------

    def of(self, method: str, chat_id: int | None = None) -> list[dict[str, Any]]:
        with self._lock:
            found = [c.params for c in self.calls if c.method == method]
        if chat_id is not None:
            found = [p for p in found if str(p.get("chat_id")) == str(chat_id)]
        return found

    def sent_texts(self, chat_id: int) -> list[str]:
        return [p.get("text", "") for p in self.of("sendMessage", chat_id)]

    def count(self) -> int:
        with self._lock:
            return len(self.calls)

    async def wait_for(
        self,
        method: str,
        predicate: Callable[[dict[str, Any]], bool] = lambda _: True,
        *,
        after: int = 0,
        timeout: float = 10.0,
    ) -> dict[str, Any]:
        """The first call of `method` (from call number `after` on) matching `predicate`."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                recent = self.calls[after:]
            for call in recent:
                if call.method == method and predicate(call.params):
                    return call.params
            if time.monotonic() > deadline:
                seen = [(c.method, c.params.get("text")) for c in recent]
                raise TimeoutError(f"no {method} matching within {timeout}s; saw {seen}")
            await asyncio.sleep(0.02)

    # -- the Bot API --------------------------------------------------------------

    @property
    def app(self) -> Starlette:
        return Starlette(routes=[Route("/bot{token}/{method}", self._endpoint, methods=["GET", "POST"])])

    async def _endpoint(self, request: Request) -> JSONResponse:
        if request.path_params["token"] != self.token:
            return _error(401, "Unauthorized")
        method = request.path_params["method"]
        params = await _params(request)
        with self._lock:
            self.calls.append(ApiCall(method, params, time.monotonic()))
            failure = self._failures.get(method)
            if failure is not None:
                failure.times -= 1
                if failure.times <= 0:
                    del self._failures[method]
        if failure is not None:
            return _error(failure.status, failure.description, failure.retry_after)
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            return _error(404, "Not Found: method not found")
        return await handler(params)

    async def _m_getMe(self, _: dict[str, Any]) -> JSONResponse:
        return _ok(self._bot_user())

    async def _m_sendMessage(self, params: dict[str, Any]) -> JSONResponse:
        text = str(params.get("text", ""))
        if not text.strip():
            return _error(400, "Bad Request: message text is empty")
        if len(text) > 4096:
            return _error(400, "Bad Request: message is too long")
        return _ok(self._message(params, text=text))

    async def _m_sendPhoto(self, params: dict[str, Any]) -> JSONResponse:
        return _ok(
            self._message(params, photo=[{"file_id": "p1", "file_unique_id": "u1", "width": 1, "height": 1}])
        )

    async def _m_sendChatAction(self, _: dict[str, Any]) -> JSONResponse:
        return _ok(True)

    async def _m_answerCallbackQuery(self, _: dict[str, Any]) -> JSONResponse:
        return _ok(True)

    async def _m_setWebhook(self, _: dict[str, Any]) -> JSONResponse:
        return _ok(True)

    async def _m_deleteWebhook(self, _: dict[str, Any]) -> JSONResponse:
        return _ok(True)

    async def _m_editMessageReplyMarkup(self, params: dict[str, Any]) -> JSONResponse:
        return _ok(True)

    async def _m_getUpdates(self, params: dict[str, Any]) -> JSONResponse:
        offset = int(params.get("offset") or 0)
        wait = min(float(params.get("timeout") or 0), _MAX_POLL_SECONDS)
        deadline = time.monotonic() + wait
        while True:
            with self._lock:
                # Asking from `offset` confirms everything before it, as on Telegram.
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
                ready = list(self._updates)
            if ready or time.monotonic() >= deadline:
                return _ok(ready)
            await asyncio.sleep(0.02)

    def _bot_user(self) -> dict[str, Any]:
        return {
            "id": BOT_ID,
            "is_bot": True,
            "first_name": "Shop assistant",
            "username": self.username,
            "can_join_groups": False,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    def _message(self, params: dict[str, Any], **content: Any) -> dict[str, Any]:
        with self._lock:
            message_id = next(self._message_ids)
        message: dict[str, Any] = {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": {"id": int(params["chat_id"]), "type": "private"},
            "from": self._bot_user(),
            **content,
        }
        # Only inline keyboards belong to a message; reply keyboards belong to the chat.
        if isinstance(params.get("reply_markup"), dict) and "inline_keyboard" in params["reply_markup"]:
            message["reply_markup"] = params["reply_markup"]
        return message


async def _params(request: Request) -> dict[str, Any]:
    content_type = request.headers.get("content-type", "")
    if "application/json" in content_type:
        body = await request.body()
        return json.loads(body) if body else {}
    if "multipart/form-data" in content_type:
        raise ValueError("file uploads are not faked: the gateway sends media by URL")
    params: dict[str, Any] = {}
    for key, value in parse_qsl((await request.body()).decode(), keep_blank_values=True):
        params[key] = json.loads(value) if key in _JSON_FIELDS else value
    return params


def _ok(result: Any) -> JSONResponse:
    return JSONResponse({"ok": True, "result": result})


def _error(status: int, description: str, retry_after: int | None = None) -> JSONResponse:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    return JSONResponse(body, status_code=status)


# -- serving it --------------------------------------------------------------------


@asynccontextmanager
async def serve(fake: FakeTelegram) -> AsyncIterator[str]:
    """Serve `fake` in this event loop; yields its base URL (TELEGRAM_API_BASE_URL)."""
    async with served_here(fake.app, "fake Telegram") as port:
        fake.base_url = f"http://127.0.0.1:{port}"
        yield fake.base_url


@contextmanager
def serve_in_thread(fake: FakeTelegram) -> Iterator[str]:
    """Serve `fake` from a thread with its own event loop (for another process to call)."""
    with served_in_thread(fake.app, "fake Telegram") as port:
        fake.base_url = f"http://127.0.0.1:{port}"
        yield fake.base_url


# -- updates, as Telegram sends them -------------------------------------------------

_update_ids = itertools.count(700_000_000)
_message_ids = itertools.count(1)


@dataclass
class TelegramUser:
    """One person writing to the bot in a private chat (chat id = user id, as on Telegram)."""

    user_id: int
    first_name: str = "Ada"
    language_code: str | None = "en"

    @property
    def chat_id(self) -> int:
        return self.user_id

    def _user(self) -> dict[str, Any]:
        user: dict[str, Any] = {"id": self.user_id, "is_bot": False, "first_name": self.first_name}
        if self.language_code:
            user["language_code"] = self.language_code
        return user

    def _message(self, **content: Any) -> dict[str, Any]:
        return {
            "message_id": next(_message_ids),
            "date": int(time.time()),
            "chat": {"id": self.chat_id, "type": "private", "first_name": self.first_name},
            "from": self._user(),
            **content,
        }

    @staticmethod
    def _update(**body: Any) -> dict[str, Any]:
        return {"update_id": next(_update_ids), **body}

    def text(self, text: str) -> dict[str, Any]:
        content: dict[str, Any] = {"text": text}
        if text.startswith("/"):
            command = text.split()[0]
            content["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        return self._update(message=self._message(**content))

    def press(self, callback_data: str, *, message_id: int = 1) -> dict[str, Any]:
        """A tap on an inline keyboard button under the bot's message `message_id`."""
        return self._update(
            callback_query={
                "id": str(next(_update_ids)),
                "from": self._user(),
                "chat_instance": f"ci-{self.user_id}",
                "data": callback_data,
                "message": {
                    "message_id": message_id,
                    "date": int(time.time()),
                    "chat": {"id": self.chat_id, "type": "private"},
                    "from": {"id": BOT_ID, "is_bot": True, "first_name": "Shop assistant"},
                    "text": "(the bot's message)",
                },
            }
        )

    def contact(
        self, phone_number: str, *, user_id: int | None = None, first_name: str = "Ada"
    ) -> dict[str, Any]:
        """A shared contact; `user_id` is whose it is (the sender's own unless told otherwise)."""
        contact: dict[str, Any] = {"phone_number": phone_number, "first_name": first_name}
        if user_id is not None:
            contact["user_id"] = user_id
        return self._update(message=self._message(contact=contact))

    def own_contact(self, phone_number: str) -> dict[str, Any]:
        return self.contact(phone_number, user_id=self.user_id, first_name=self.first_name)

    def sticker(self) -> dict[str, Any]:
        return self._update(
            message=self._message(
                sticker={
                    "file_id": "s1",
                    "file_unique_id": "su1",
                    "type": "regular",
                    "width": 512,
                    "height": 512,
                    "is_animated": False,
                    "is_video": False,
                    "emoji": "👍",
                }
            )
        )

    def photo(self, caption: str | None = None) -> dict[str, Any]:
        content: dict[str, Any] = {
            "photo": [{"file_id": "ph1", "file_unique_id": "phu1", "width": 90, "height": 90}]
        }
        if caption:
            content["caption"] = caption
        return self._update(message=self._message(**content))

    def voice(self) -> dict[str, Any]:
        return self._update(
            message=self._message(voice={"file_id": "v1", "file_unique_id": "vu1", "duration": 3})
        )

    def location(self) -> dict[str, Any]:
        return self._update(message=self._message(location={"latitude": 51.5, "longitude": -0.12}))

    def edited(self, text: str) -> dict[str, Any]:
        message = self._message(text=text)
        message["edit_date"] = int(time.time())
        return self._update(edited_message=message)

    def in_group(self, text: str, *, group_id: int = -100123) -> dict[str, Any]:
        message = self._message(text=text)
        message["chat"] = {"id": group_id, "type": "group", "title": "Friends"}
        return self._update(message=message)
