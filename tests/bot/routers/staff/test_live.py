"""/staff/ws: the console's live socket hears of a handoff as it happens."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker
from websockets.asyncio.client import connect

from tests.bot.staff_support import PERSON, conversation_ids
from tests.fakes.gateway import Gateway

pytestmark = pytest.mark.asyncio


async def test_a_handoff_on_the_widget_reaches_the_console_live(
    gateway: Gateway, staff: Callable[..., Any], db: sessionmaker[Session]
) -> None:
    client, _ = await staff(db)
    ws_url = gateway.ws_url.replace("/ws/chat", "/staff/ws")
    async with connect(ws_url, additional_headers={"Cookie": client.cookie_header()}) as console:
        async with gateway.connect() as widget:
            await widget.recv_until(lambda f: f["type"] == "history")
            await widget.say("c1", PERSON)
            frame = json.loads(await asyncio.wait_for(console.recv(), 5))
            (conversation_id,) = conversation_ids(db)
            assert frame["type"] == "queue" and frame["event"] == "handoff"
            assert f'data-conversation-id="{conversation_id}"' in frame["html"]
            assert "request human" in frame["html"]
