"""What every collaborator of the conversation core shares: the database, the outbox, the live
frames, the metrics and the background tasks."""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.db import UnitOfWork
from bot.core.frames import Events
from bot.core.outbox import Outbox
from bot.core.tasks import Background
from bot.metrics import Metrics


@dataclass(frozen=True)
class Parts:
    uow: UnitOfWork
    outbox: Outbox
    events: Events
    metrics: Metrics
    background: Background
