"""Access lines under attack: a huge path or a worst-case message must not stall other clients.

The gateway runs on its own event loop in a thread (a real uvicorn on a free
port), so the clients here measure what another customer would wait: if
logging one request blocked the loop, the next request would wait with it.
"""

from __future__ import annotations

import json
import logging
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect

from bot.logs import MAX_FIELD_CHARS, JsonFormatter
from tests.fakes.gateway import ThreadedGateway, threaded_gateway
from tests.fakes.rasa import FakeRasa

# What a second customer may wait while the gateway handles an attacker's request.
SECOND_CLIENT_BOUND_SECONDS = 0.5


@pytest.fixture
def threaded(gateway_db_url: str, fake_rasa: FakeRasa) -> Iterator[ThreadedGateway]:
    with threaded_gateway(gateway_db_url, fake_rasa) as gateway:
        yield gateway


def second_client_wait(http: httpx.Client, url: str) -> float:
    started = time.perf_counter()
    assert http.get(url + "/healthz").status_code == 200
    return time.perf_counter() - started


def raw_get(port: int, path: str) -> bytes:
    """A GET as an attacker sends it (httpx refuses URLs this long)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def access_lines(caplog: pytest.LogCaptureFixture, prefix: str) -> list[str]:
    formatter = JsonFormatter()
    return [
        json.loads(formatter.format(r))["msg"]
        for r in caplog.records
        if r.name == "bot.access" and r.getMessage().startswith(prefix)
    ]


def test_a_64_kib_path_is_logged_and_answered_without_stalling_another_client(
    threaded: ThreadedGateway, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.access")
    # A run of address characters: what made the old e-mail pattern quadratic.
    # (About the longest request line uvicorn's parser takes: 64 KiB in all.)
    paths = ["/" + "a" * 65_000, "/" + "a." * 32_500, "/" + "1" * 65_000 + "a"]
    with httpx.Client(timeout=30) as http:
        waits = []
        for path in paths:
            assert raw_get(threaded.port, path).startswith(b"HTTP/1.1 404")
            # The access line is written just after the response went out: now.
            waits.append(second_client_wait(http, threaded.url))
    assert max(waits) < SECOND_CLIENT_BOUND_SECONDS, waits
    lines = [line for line in access_lines(caplog, "GET /") if "/healthz" not in line]
    assert len(lines) == len(paths)
    assert all(len(line) < MAX_FIELD_CHARS and line.endswith("chars cut] 404") for line in lines), lines


@pytest.mark.parametrize("worst", ["a", "a@", "a.", "+1 ", "-", " @"])
def test_a_2000_character_worst_case_message_is_answered_without_stalling_another_client(
    threaded: ThreadedGateway, fake_rasa: FakeRasa, worst: str
) -> None:
    text = (worst * 2000)[:1999] + "x"
    ws_url = threaded.url.replace("http://", "ws://") + "/ws/chat"
    with connect(ws_url, open_timeout=5) as tab, httpx.Client(timeout=30) as http:
        assert json.loads(tab.recv(5))["type"] == "session"
        tab.recv(5)  # history
        tab.send(json.dumps({"type": "message", "id": "c-1", "text": text}))
        waits = [second_client_wait(http, threaded.url)]
        frames = read_until(tab, lambda f: f["type"] == "message" and f["from"] == "bot")
        waits.append(second_client_wait(http, threaded.url))
    assert frames[-1]["text"] == f"echo: {text.strip()}"
    assert [c.message for c in fake_rasa.calls] == [text.strip()]
    assert max(waits) < SECOND_CLIENT_BOUND_SECONDS, waits


def read_until(tab: Any, predicate: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
    frames = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        frames.append(json.loads(tab.recv(max(0.01, deadline - time.monotonic()))))
        if predicate(frames[-1]):
            return frames
    raise AssertionError(f"no matching frame in {frames}")
