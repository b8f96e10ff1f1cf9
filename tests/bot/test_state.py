"""bot/state.py: what the app builds at start-up and every route reaches through `request.state`."""

from __future__ import annotations

import dataclasses

import httpx
import pytest

from bot.app import create_app
from bot.state import GatewayState
from tests.fakes.gateway import gateway_settings
from tests.fakes.rasa import FakeRasa


async def test_the_app_builds_one_gateway_state_for_its_routes(gateway_db_url: str, fake_rasa: FakeRasa) -> None:
    settings = gateway_settings(gateway_db_url)
    app = create_app(settings, http_transport=httpx.MockTransport(fake_rasa.handler))
    async with app.router.lifespan_context(app) as state:
        gateway = state["gateway"]
        assert isinstance(gateway, GatewayState)
        assert gateway.settings is settings
        assert "web" in gateway.service.channel_names()
        assert not gateway.http.is_closed
        with pytest.raises(dataclasses.FrozenInstanceError):
            gateway.settings = settings  # type: ignore[misc]
        gateway.metrics.messages.labels("web", "in").inc()
        assert b'gateway_messages_total{channel="web",direction="in"} 1.0' in gateway.metrics.render()
    assert gateway.http.is_closed  # closed with the app
