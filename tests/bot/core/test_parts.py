"""bot/core/parts.py: the conversation core's collaborators share one set of parts - one unit of
work, one ordered outbox, one event publisher - so their writes and frames never diverge."""

from __future__ import annotations

import dataclasses

import pytest

from bot.core.parts import Parts
from tests.fakes.rigs import ServiceRig


def test_parts_are_fixed_once_built(rig: ServiceRig) -> None:
    service = rig.service
    parts = Parts(uow=service.uow, outbox=service.outbox, events=service._events, metrics=rig.metrics,
                  background=service._background)  # fmt: skip
    assert [f.name for f in dataclasses.fields(Parts)] == ["uow", "outbox", "events", "metrics", "background"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        parts.uow = service.uow  # type: ignore[misc]


def test_every_collaborator_of_the_service_works_on_the_same_parts(rig: ServiceRig) -> None:
    service = rig.service
    collaborators = [service.assistant, service.staff, service.handback, service.inbound, service.notices]
    for collaborator in collaborators:
        assert collaborator._uow is service.uow, collaborator
        assert collaborator._outbox is service.outbox, collaborator
        assert collaborator._events is service._events, collaborator
    for collaborator in (service.assistant, service.handback, service.inbound):
        assert collaborator._metrics is rig.metrics and collaborator._background is service._background
