"""The gateway's logging: the project's scrubbing JSON lines (crm/logs.py), uvicorn's
loggers routed through them, and the conversation id on every record of a turn.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from crm.logs import (  # noqa: F401 - the gateway's modules and tests import these from here
    MAX_FIELD_CHARS,
    JsonFormatter,
    conversation_id_var,
    install_json_handler,
    request_id_var,
    scrub,
    truncate,
)

_HANDLER_NAME = "gateway-json"


def configure_logging(level: str = "INFO") -> None:
    """Route every log record, uvicorn's included, through one JSON handler on stderr."""
    install_json_handler(_HANDLER_NAME, level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    # The gateway logs its own access lines, without query strings.
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    # httpx logs every request URL at INFO; the Rasa calls are measured in metrics instead.
    logging.getLogger("httpx").setLevel(logging.WARNING)


@contextmanager
def conversation_context(conversation_id: str) -> Iterator[None]:
    token = conversation_id_var.set(conversation_id)
    try:
        yield
    finally:
        conversation_id_var.reset(token)
