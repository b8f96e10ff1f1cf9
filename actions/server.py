"""The action server: rasa-sdk's app, answering only Rasa.

`python -m actions.server` (what the supervisor starts). rasa-sdk's own server
(`python -m rasa_sdk`) runs any tracker anyone sends it, and a tracker's
metadata says which customer is talking: a `curl`, or a web page in the shop
owner's browser posting `text/plain`, could read any customer's orders and
change their address. This one refuses, before any action runs:
- a `Host` that is not this loopback address (DNS rebinding puts a foreign
  name on a request to 127.0.0.1),
- any request but the health check without Rasa's bearer token
  (ACTION_SERVER_TOKEN, sent by endpoints.yml), compared in constant time,
- a body that is not a JSON object sent as `application/json`.
It listens on loopback only.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable

from rasa_sdk.endpoint import create_app
from rasa_sdk.executor import ActionExecutor
from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from actions.settings import ActionServerSettings, get_settings
from crm.logs import install_json_handler

logger = logging.getLogger(__name__)

Guard = Callable[[Request], Awaitable[HTTPResponse | None]]


def loopback_hosts(port: int) -> frozenset[str]:
    return frozenset(f"{host}:{port}" for host in ("127.0.0.1", "localhost", "[::1]"))


def make_guard(*, token: str, hosts: frozenset[str]) -> Guard:
    expected = token.encode()

    async def guard(request: Request) -> HTTPResponse | None:
        if request.headers.get("host", "").lower() not in hosts:
            return _refuse(request, 400, "wrong_host", "this server only answers on its loopback address")
        if request.method == "GET" and request.path == "/health":
            return None
        scheme, _, supplied = request.headers.get("authorization", "").partition(" ")
        # Bytes, not str: compare_digest raises on non-ASCII text, and the caller chose it.
        if scheme.lower() != "bearer" or not hmac.compare_digest(supplied.encode("utf-8", "surrogatepass"), expected):
            refusal = _refuse(request, 401, "bad_token", "missing or wrong bearer token")
            refusal.headers["WWW-Authenticate"] = "Bearer"
            return refusal
        if request.method == "POST":
            if request.content_type.split(";")[0].strip().lower() != "application/json":
                return _refuse(request, 415, "not_json", "send the action call as application/json")
            if not isinstance(_json_or_none(request), dict):
                return _refuse(request, 400, "bad_body", "the body must be a JSON object")
        return None

    return guard


def _json_or_none(request: Request) -> object:
    try:
        return request.json
    except Exception:  # sanic raises its own BadRequest (or a JSON error) for an unreadable body
        return None


def _refuse(request: Request, status: int, reason: str, sentence: str) -> HTTPResponse:
    # No body, no headers' values: only what was refused and why.
    logger.warning("action server refused a request", extra={"reason": reason, "path": request.path[:100]})
    return response.json({"error": sentence}, status=status)


def build_app(settings: ActionServerSettings, executor: ActionExecutor | None = None) -> Sanic:
    if executor is None:
        executor = ActionExecutor()
        executor.register_package("actions")
    # No CORS: no web page has any business here.
    app = create_app(executor, cors_origins="")
    app.register_middleware(
        make_guard(
            token=settings.action_server_token.get_secret_value(), hosts=loopback_hosts(settings.action_port)
        ),
        "request",
    )
    return app


def configure_logging() -> None:
    """The gateway's scrubbing JSON lines: a CRM error (a PostgreSQL DETAIL quoting a row) or
    rasa-sdk's own messages must not put an e-mail address or phone number in the log.
    rasa-sdk's Sanic app leaves logging to the process, so its loggers reach this handler too."""
    install_json_handler("actions-json", "INFO")


def main() -> None:
    configure_logging()
    settings = get_settings()
    app = build_app(settings)
    logger.info("action server listening", extra={"host": settings.action_server_host, "port": settings.action_port})
    app.run(
        host=settings.action_server_host,
        port=settings.action_port,
        single_process=True,
        access_log=False,
        motd=False,
    )


if __name__ == "__main__":
    main()
