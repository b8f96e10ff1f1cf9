"""The REST input channel the gateway talks to, with a bearer token.

Rasa's own REST channel accepts anyone who can reach the port, and message
metadata carries the verified customer id, so an open channel would let anyone
claim to be any customer. This one refuses requests without the shared token,
and answers 500 when the turn fails so the gateway can tell the customer
something true instead of receiving an empty list.

The reply also says how the message was read: an `X-Nlu-Parse` header with
the top intent, its confidence and the next guesses (names and numbers only,
never the text), which the gateway stores for the insights page and the
review queue. The body stays Rasa's standard list.
"""

from __future__ import annotations

import hmac
import json
import logging
from typing import Any, Awaitable, Callable, Optional, Text

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from rasa_ext import turn_parse

logger = logging.getLogger(__name__)

PARSE_HEADER = "X-Nlu-Parse"
_GUESSES = 3


def parse_summary(latest_message: Optional[dict[Text, Any]]) -> Optional[dict[Text, Any]]:
    """The parse of a tracker's latest message, cut down to what the gateway keeps."""
    intent = (latest_message or {}).get("intent") or {}
    name = intent.get("name")
    if not isinstance(name, str) or not name:
        return None
    ranking = [
        [str(r.get("name")), round(float(r.get("confidence") or 0.0), 4)]
        for r in (latest_message or {}).get("intent_ranking") or []
        if isinstance(r, dict) and r.get("name")
    ][:_GUESSES]
    return {
        "intent": name,
        "confidence": round(float(intent.get("confidence") or 0.0), 4),
        "ranking": ranking,
    }


class GatewayInput(RestInput):
    @classmethod
    def name(cls) -> Text:
        return "gateway"

    @classmethod
    def from_credentials(cls, credentials: Optional[dict[Text, Any]]) -> InputChannel:
        token = (credentials or {}).get("token") or ""
        if len(token) < 16:
            raise ValueError(
                "credentials.yml: rasa_ext.channel.GatewayInput needs a `token` of at least "
                "16 characters (set RASA_TOKEN)."
            )
        return cls(token)

    def __init__(self, token: str) -> None:
        self.token = token

    def _authorised(self, request: Request) -> bool:
        header = request.headers.get("Authorization", "")
        scheme, _, supplied = header.partition(" ")
        # Bytes: compare_digest raises TypeError on a non-ASCII str (a 500 instead of a 403).
        return scheme.lower() == "bearer" and hmac.compare_digest(supplied.encode("utf-8", "surrogatepass"), self.token.encode())

    def blueprint(
        self, on_new_message: Callable[[UserMessage], Awaitable[None]]
    ) -> Blueprint:
        webhook = Blueprint("gateway_webhook", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            if not self._authorised(request):
                return response.json({"error": "missing or wrong bearer token"}, status=403)
            body = request.json if isinstance(request.json, dict) else {}
            sender_id, text = body.get("sender"), body.get("message")
            metadata = body.get("metadata")
            if not isinstance(sender_id, str) or not isinstance(text, str):
                return response.json({"error": "`sender` and `message` must be strings"}, status=400)
            if metadata is not None and not isinstance(metadata, dict):
                return response.json({"error": "`metadata` must be an object"}, status=400)
            # The gateway's id for the message: lets it find (and undo) a turn it had to give up on.
            message_id = body.get("message_id")
            if message_id is not None and not isinstance(message_id, str):
                return response.json({"error": "`message_id` must be a string"}, status=400)
            collector = CollectingOutputChannel()
            try:
                with turn_parse.collect(sender_id) as seen:
                    await on_new_message(
                        UserMessage(
                            text,
                            collector,
                            sender_id,
                            input_channel=self.name(),
                            metadata=metadata,
                            message_id=message_id,
                        )
                    )
            except Exception:
                # No message text here: logs must not carry what customers wrote.
                logger.exception("gateway channel: the turn failed")
                return response.json({"error": "the assistant failed on this message"}, status=500)
            headers = {}
            # The tracker store noted the parse when it saved the turn (rasa_ext/turn_parse.py);
            # loading the tracker again is the fallback for a store that does not.
            if seen.saved:
                summary = parse_summary(seen.parse_data)
            else:
                summary = await self._parse_of(request, sender_id)
            if summary is not None:
                headers[PARSE_HEADER] = json.dumps(summary, separators=(",", ":"))
            return response.json(collector.messages, headers=headers)

        return webhook

    @staticmethod
    async def _parse_of(request: Request, sender_id: str) -> Optional[dict[Text, Any]]:
        """How the turn's message was read, from the tracker the turn just saved."""
        agent = getattr(request.app.ctx, "agent", None)
        if agent is None or agent.tracker_store is None:
            return None
        tracker = await agent.tracker_store.retrieve(sender_id)
        if tracker is None or tracker.latest_message is None:
            return None
        return parse_summary(tracker.latest_message.parse_data)
