"""What the app builds at start-up and every route reaches through `request.state`."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from bot.conversations import ConversationService
from bot.metrics import Metrics
from bot.settings import GatewaySettings


@dataclass(frozen=True)
class GatewayState:
    settings: GatewaySettings
    metrics: Metrics
    http: httpx.AsyncClient
    service: ConversationService
