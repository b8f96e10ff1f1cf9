"""bot/supervisor_settings.py: the supervisor's one typed settings object."""

from __future__ import annotations

import pytest

from bot.supervisor_settings import SupervisorSettings


def test_the_supervisor_reads_its_settings_object(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEMO_MODE", "yes")
    monkeypatch.setenv("GATEWAY_PORT", "18601")
    made = SupervisorSettings()
    assert made.demo_mode is True and made.gateway_port == 18601
    monkeypatch.setenv("DEMO_MODE", "maybe")  # not a yes: off, as before
    assert SupervisorSettings().demo_mode is False
