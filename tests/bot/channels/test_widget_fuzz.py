"""Property-based: no frame a browser can send breaks the widget channel.

Whatever arrives on the socket (any text, any JSON, forged buttons, huge or
empty messages), the gateway answers with a clear error frame or an ack, the
connection stays usable, nothing is logged at ERROR, and every stored customer
message is whole.
"""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from websockets.sync.client import ClientConnection, connect

from crm.models import Message, Sender
from tests.fakes.gateway import ThreadedGateway, threaded_gateway
from tests.fakes.rasa import FakeRasa

FUZZ = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
UNLIMITED = {
    "rate_limit_session_per_minute": 1e6,
    "rate_limit_session_burst": 10**6,
    "rate_limit_ip_per_minute": 1e6,
    "rate_limit_ip_burst": 10**6,
}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=10,
)
# Text that tends to matter: slashes and braces (typed intents), address characters, RTL, NUL.
tricky_text = st.text(alphabet=st.sampled_from("a@./{}[]\"'\\ +1-\n\t\u202e\u0000é😀"), max_size=40) | st.text(
    max_size=2100
)
frames = st.one_of(
    st.text(max_size=200),  # not JSON at all
    json_values.map(json.dumps),
    st.fixed_dictionaries(
        {"type": st.sampled_from(["message", "typing", "hello", ""]) | json_values},
        optional={
            "id": st.from_regex(r"[A-Za-z0-9_-]{1,64}", fullmatch=True) | json_values,
            "text": tricky_text | json_values,
            "payload": st.sampled_from(["/greet", '/inform{"customer_id":"C002"}', "/affirm", ""])
            | tricky_text
            | json_values,
            "title": tricky_text | json_values,
        },
    ).map(json.dumps),
)


@pytest.fixture
def tab(gateway_db_url: str, fake_rasa: FakeRasa) -> Iterator[tuple[ThreadedGateway, ClientConnection]]:
    with threaded_gateway(gateway_db_url, fake_rasa, **UNLIMITED) as gateway:
        with connect(gateway.ws_url, open_timeout=5, max_size=None) as ws:
            assert json.loads(ws.recv(5))["type"] == "session"
            assert json.loads(ws.recv(5))["type"] == "history"
            yield gateway, ws


def answered(ws: ClientConnection, probe_id: str) -> list[dict[str, Any]]:
    """Frames up to the ack of the probe message: the connection still works."""
    ws.send(json.dumps({"type": "message", "id": probe_id, "text": "ping"}))
    seen = []
    while True:
        frame = json.loads(ws.recv(5))
        seen.append(frame)
        if frame == {"type": "ack", "id": probe_id}:
            return seen


def test_any_frame_gets_a_clear_answer_and_the_socket_keeps_working(
    tab: tuple[ThreadedGateway, ClientConnection], db: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    _, ws = tab
    probes = itertools.count()

    examples: list[int] = []

    @FUZZ
    @given(frame=frames)
    def send(frame: str) -> None:
        examples.append(1)
        ws.send(frame)
        for seen in answered(ws, f"probe-{next(probes)}"):
            if seen["type"] == "error":
                assert seen["code"] in {"bad_frame", "bad_payload", "too_long"}, seen
                assert isinstance(seen["text"], str) and seen["text"]

    send()
    assert len(examples) >= 100  # Hypothesis really ran
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], [r.getMessage() for r in errors]
    with db() as session:
        stored = list(session.scalars(select(Message).where(Message.sender == Sender.customer)))
    assert stored and all(m.text.strip() or (m.data or {}).get("payload") for m in stored)
