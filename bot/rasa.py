"""Rasa's REST webhook (our `GatewayInput` channel), as one call with one deadline."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote

import httpx

from bot.core.messages import BotReply, Button

FailureKind = Literal["down", "timeout", "http_error", "malformed", "empty"]

WEBHOOK_PATH = "/webhooks/gateway/webhook"


class RasaFailure(Exception):
    """Rasa gave no usable answer. `kind` goes to metrics; no message text goes anywhere."""

    def __init__(self, kind: FailureKind, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind: FailureKind = kind
        self.detail = detail


@contextmanager
def _as_rasa_failure(timeout: float) -> Iterator[None]:
    """A deadline passed or the connection failed: the RasaFailure the gateway counts."""
    try:
        yield
    except (TimeoutError, httpx.TimeoutException) as exc:
        raise RasaFailure("timeout", f"no answer within {timeout}s") from exc
    except httpx.TransportError as exc:
        raise RasaFailure("down", type(exc).__name__) from exc


def _json_answer(response: httpx.Response) -> Any:
    """The JSON body of a 200 answer; RasaFailure for any other status or a body that is not JSON."""
    if response.status_code != 200:
        raise RasaFailure("http_error", f"HTTP {response.status_code}")
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RasaFailure("malformed", "body is not JSON") from exc


@dataclass(frozen=True)
class NluParse:
    """How Rasa read the customer's message (our channel's `X-Nlu-Parse` header)."""

    intent: str
    confidence: float
    ranking: tuple[tuple[str, float], ...] = ()


class Replies(list[BotReply]):
    """Rasa's replies to one message, and how it read that message when it said so."""

    parse: NluParse | None = None


PARSE_HEADER = "x-nlu-parse"


def read_parse(header: str | None) -> NluParse | None:
    """The parse header, or None when absent or not what our channel writes (it is optional)."""
    if not header or len(header) > 2000:
        return None
    try:
        data = json.loads(header)
        intent, confidence = data["intent"], float(data["confidence"])
        ranking = tuple((str(name)[:60], float(conf)) for name, conf in data.get("ranking") or [])
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(intent, str) or not intent or not 0.0 <= confidence <= 1.0:
        return None
    return NluParse(intent=intent[:60], confidence=confidence, ranking=ranking[:5])


@dataclass(frozen=True)
class RasaMetadata:
    channel: str
    customer_id: str | None
    locale: str
    extra: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {**self.extra, "channel": self.channel, "customer_id": self.customer_id, "locale": self.locale}


class RasaClient:
    """One Rasa server. At most `max_in_flight` turns are sent to it at once; the rest wait their
    turn, first come first served, inside the same deadline (a turn that waits too long ends in
    the apology like one Rasa was slow to answer).

    Rasa runs its turns on one event loop: with twenty in flight it interleaves them all, a turn
    with three action calls queues behind the others three times, and under load the slowest
    customers wait two to three times the average. Admitting a few at a time keeps Rasa busy
    while some turns wait for the action server and serves the rest in order: at 20 concurrent
    conversations p95 1,014-1,137 -> 694-710 ms with 6 (496-645 with 3, which was too few at 50
    concurrent: Rasa then sat idle while all its turns waited for actions; docs/performance.md).
    """

    def __init__(
        self, http: httpx.AsyncClient, *, base_url: str, token: str, timeout_seconds: float, max_in_flight: int = 6
    ) -> None:
        self._http = http
        self._base = base_url.rstrip("/")
        self._url = self._base + WEBHOOK_PATH
        self._token = token
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._timeout = timeout_seconds
        self._admitted = asyncio.Semaphore(max_in_flight)

    async def send(
        self, *, sender: str, message: str, metadata: RasaMetadata, message_id: str | None = None
    ) -> Replies:
        body: dict[str, Any] = {"sender": sender, "message": message, "metadata": metadata.as_json()}
        if message_id is not None:
            body["message_id"] = message_id
        with _as_rasa_failure(self._timeout):
            # httpx's timeout is per network operation; this bounds the whole turn, its wait included.
            async with asyncio.timeout(self._timeout), self._admitted:
                response = await self._http.post(
                    self._url, json=body, headers=self._headers, timeout=self._timeout
                )
        replies = Replies(parse_replies(_json_answer(response)))
        replies.parse = read_parse(response.headers.get(PARSE_HEADER))
        return replies

    async def trigger_intent(
        self,
        *,
        sender: str,
        intent: str,
        entities: dict[str, str] | None = None,
        end_active_loop: bool = False,
    ) -> list[BotReply]:
        """Tell Rasa something happened outside the chat (staff handed back); its replies come back.

        Rasa's HTTP API (`--enable-api --auth-token`) takes the token as a query
        parameter. Without an `output_channel` Rasa collects the replies and
        returns them, so they reach the customer through the gateway like any other.
        `end_active_loop` first ends any form the bot was in the middle of (staff
        may have stepped in mid-form): the trigger must not be read as its answer.
        """
        conversation = f"/conversations/{quote(sender, safe='')}"
        with _as_rasa_failure(self._timeout):
            # One deadline for the whole exchange, as for a customer's turn, and one of its places.
            async with asyncio.timeout(self._timeout), self._admitted:
                if end_active_loop:
                    await self._api(
                        conversation + "/tracker/events",
                        [
                            {"event": "active_loop", "name": None},
                            {"event": "slot", "name": "requested_slot", "value": None},
                        ],
                    )
                data = await self._api(
                    conversation + "/trigger_intent", {"name": intent, "entities": entities or {}}
                )
        if not isinstance(data, dict):
            raise RasaFailure("malformed", "expected an object with messages")
        return parse_replies(data.get("messages", []))

    async def forget_turn(self, *, sender: str, message_id: str) -> bool:
        """Undo a turn the customer was told failed, if Rasa took it in after all.

        A timed-out or cut-off turn may still have run in Rasa: its tracker would
        then hold a bot answer the transcript (and the customer) never had. When
        the tracker's latest user message is this one (the gateway sends each
        with its `message_id`), a `rewind` event reverts it, so the dialogue
        carries on from where the customer last saw it. True if it rewound.
        """
        conversation = f"/conversations/{quote(sender, safe='')}/tracker"
        params = {"include_events": "AFTER_RESTART"}
        if self._token:
            params["token"] = self._token
        try:
            with _as_rasa_failure(self._timeout):
                async with asyncio.timeout(self._timeout):
                    response = await self._http.get(
                        self._base + conversation, params=params, timeout=self._timeout
                    )
                    if response.status_code == 404:
                        return False
                    if response.status_code != 200:
                        raise RasaFailure("http_error", f"HTTP {response.status_code}")
                    events = response.json().get("events") or []
                    latest = _latest_user_event(events)
                    if latest is None or latest.get("message_id") != message_id:
                        return False
                    await self._api(conversation + "/events", [{"event": "rewind"}])
        except (json.JSONDecodeError, UnicodeDecodeError, AttributeError) as exc:
            raise RasaFailure("malformed", "tracker is not a JSON object") from exc
        return True

    async def _api(self, path: str, body: object) -> object:
        """One call to Rasa's HTTP API; its JSON answer."""
        params = {"include_events": "NONE"}
        if self._token:
            params["token"] = self._token
        with _as_rasa_failure(self._timeout):
            response = await self._http.post(
                self._base + path, params=params, json=body, timeout=self._timeout
            )
        return _json_answer(response)


def _latest_user_event(events: list[Any]) -> dict[str, Any] | None:
    """The newest user message still in force (None when a rewind already undid it)."""
    for event in reversed(events):
        if not isinstance(event, dict):
            continue
        if event.get("event") == "rewind":
            return None
        if event.get("event") == "user":
            return event
    return None


def parse_replies(data: object) -> list[BotReply]:
    """The standard Rasa REST list, checked item by item: half-understood replies are worse than none."""
    if not isinstance(data, list):
        raise RasaFailure("malformed", "expected a list of messages")
    return [_parse_item(item, index) for index, item in enumerate(data)]


def _parse_item(item: object, index: int) -> BotReply:
    if not isinstance(item, dict):
        raise RasaFailure("malformed", f"item {index} is not an object")
    text = item.get("text") or ""
    image = item.get("image")
    custom = item.get("custom")
    raw_buttons = item.get("buttons") or []
    if not isinstance(text, str):
        raise RasaFailure("malformed", f"item {index}: text is not a string")
    if image is not None and not isinstance(image, str):
        raise RasaFailure("malformed", f"item {index}: image is not a string")
    if custom is not None and not isinstance(custom, dict):
        raise RasaFailure("malformed", f"item {index}: custom is not an object")
    if custom is not None and "handoff" in custom and not isinstance(custom["handoff"], dict):
        raise RasaFailure("malformed", f"item {index}: custom.handoff is not an object")
    if not isinstance(raw_buttons, list):
        raise RasaFailure("malformed", f"item {index}: buttons is not a list")
    buttons = []
    for button in raw_buttons:
        if not isinstance(button, dict):
            raise RasaFailure("malformed", f"item {index}: a button is not an object")
        title, payload = button.get("title"), button.get("payload")
        if not isinstance(title, str) or not isinstance(payload, str) or not payload:
            raise RasaFailure("malformed", f"item {index}: a button lacks a title or payload")
        buttons.append(Button(title=title, payload=payload))
    return BotReply(text=text, buttons=tuple(buttons), image=image or None, custom=custom)


async def check_url(http: httpx.AsyncClient, url: str, *, timeout: float) -> str:
    """'ok' when `url` answers 200 in time, else a one-word reason (for /healthz)."""
    try:
        async with asyncio.timeout(timeout):
            response = await http.get(url, timeout=timeout)
    except (TimeoutError, httpx.TimeoutException):
        return "timeout"
    except httpx.TransportError:
        return "down"
    return "ok" if response.status_code == 200 else f"http {response.status_code}"
