"""The real stack heals: the action server killed with kill -9 (its worker orphaned) comes back."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import httpx
import pytest

from bot.supervisor import Stack
from tests.e2e.widget_client import WidgetClient

pytestmark = pytest.mark.asyncio(loop_scope="function")


def group_members(pgid: int) -> set[int]:
    members = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.add(int(entry.name))
    return members


async def healthy(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=2) as http:
        while time.monotonic() < deadline:
            try:
                if (await http.get(url)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.5)
    raise TimeoutError(f"{url} not healthy after {timeout}s")


async def test_kill_9_of_the_action_server_leaves_no_orphan_and_it_comes_back(
    stack: Stack, stack_env: dict[str, str]
) -> None:
    supervisor = stack.supervisor  # type: ignore[attr-defined]
    before = len(supervisor.restarts["actions"])
    leader = stack.processes["actions"].pid
    old_group = group_members(leader)
    assert leader in old_group and len(old_group) >= 2, "expected the action server's worker process"
    os.kill(leader, signal.SIGKILL)
    deadline = time.monotonic() + 15
    while len(supervisor.restarts["actions"]) == before:
        assert time.monotonic() < deadline, "the supervisor did not notice"
        await asyncio.sleep(0.2)
    await healthy(f"{stack.gateway_url}/healthz", timeout=90)
    assert len(supervisor.restarts["actions"]) == before + 1
    assert stack.processes["actions"].pid != leader
    assert group_members(leader) == set(), "the old worker survived as an orphan"
    assert supervisor.restarts["rasa"] == [] and supervisor.restarts["gateway"] == []
    # Custom actions answer again (the greeting reads the CRM through the action server).
    client = await WidgetClient.connect(
        stack.gateway_port, customer_id="C001", secret=stack_env["WIDGET_IDENTITY_SECRET"]
    )
    try:
        turn = await client.say("hi there")
        assert "Amelia" in turn.text
    finally:
        await client.close()
