"""The supervisor with real processes (small fakes that fork a worker, like the action server)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import pytest_asyncio

from bot.supervision import HealPolicy, Supervisor
from bot.supervisor import ROOT, Stack, free_port

pytestmark = pytest.mark.asyncio

FAST = HealPolicy(
    check_interval=0.1,
    check_timeout=0.5,
    unhealthy_after=0.6,
    startup_grace=5.0,
    backoff_initial=0.2,
    backoff_max=2.0,
    stable_after=30.0,
    stop_grace=2.0,
)


@dataclass
class FakeStack(Stack):
    record: Path = Path(".")
    ports: dict[str, int] = field(default_factory=dict)
    extra: dict[str, list[str]] = field(default_factory=dict)

    def child_env(self) -> dict[str, str]:
        return {**os.environ, "PYTHONPATH": str(ROOT)}

    def commands(self, env: Mapping[str, str]) -> dict[str, list[str]]:
        return {
            name: [sys.executable, "-m", "tests.fakes.child", str(port), str(self.record), name,
                   *self.extra.get(name, [])]
            for name, port in self.ports.items()
        }

    def health_urls(self) -> dict[str, str | None]:
        return {name: f"http://127.0.0.1:{port}/health" for name, port in self.ports.items()}


def pids(record: Path, name: str) -> list[tuple[int, int]]:
    path = record / f"{name}.pids"
    if not path.exists():
        return []
    return [tuple(map(int, line.split())) for line in path.read_text().split("\n") if line]  # type: ignore[misc]


def alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        # As every server here binds: a connection in TIME_WAIT is no obstacle, a listener is.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


async def until(predicate, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached")
        await asyncio.sleep(0.05)


@dataclass
class Running:
    stack: FakeStack
    supervisor: Supervisor
    record: Path


@pytest_asyncio.fixture
async def running(tmp_path: Path) -> AsyncIterator[Running]:
    stack = FakeStack(record=tmp_path, quiet=True, stop_grace=3.0)
    stack.ports = {"rasa": free_port(), "actions": free_port(), "gateway": free_port()}
    stack.extra = {"gateway": ["--drain", "1.0", "--needs", str(stack.ports["rasa"])]}
    await stack.start()
    await until(lambda: all(len(pids(tmp_path, n)) == 1 for n in stack.ports))
    supervisor = Supervisor(stack, FAST)
    stop = asyncio.Event()
    task = asyncio.create_task(supervisor.run(stop))
    yield Running(stack, supervisor, tmp_path)
    stop.set()
    await task
    await stack.stop()


async def test_kill_9_of_a_leader_kills_its_orphan_worker_and_restarts_it(running: Running) -> None:
    [(leader, worker)] = pids(running.record, "actions")
    os.kill(leader, signal.SIGKILL)
    await until(lambda: len(pids(running.record, "actions")) == 2)
    assert not alive(worker), "the old worker survived as an orphan"
    new_leader, new_worker = pids(running.record, "actions")[1]
    assert alive(new_leader) and alive(new_worker)
    # The new worker holds the port (the old one let go of it): no "address already in use".
    await until(lambda: not port_free(running.stack.ports["actions"]))
    assert running.supervisor.restarts["actions"] == ["exited with code -9"]
    assert running.supervisor.restarts["rasa"] == [] and running.supervisor.restarts["gateway"] == []


async def test_a_child_whose_worker_died_is_restarted_once_its_health_check_fails_long_enough(
    running: Running,
) -> None:
    [(leader, worker)] = pids(running.record, "actions")
    await asyncio.sleep(0.3)  # seen healthy first
    os.kill(worker, signal.SIGKILL)  # the leader lives on, serving nothing
    began = time.monotonic()
    await until(lambda: len(pids(running.record, "actions")) == 2)
    assert time.monotonic() - began >= FAST.unhealthy_after
    assert not alive(leader)
    assert running.supervisor.restarts["actions"][0].startswith("health check failing")


async def test_a_live_child_answering_503_is_restarted(running: Running) -> None:
    await asyncio.sleep(0.3)
    (running.record / "rasa.sick").touch()
    await until(lambda: len(running.supervisor.restarts["rasa"]) == 1)
    (running.record / "rasa.sick").unlink()
    await until(lambda: len(pids(running.record, "rasa")) == 2)
    assert not alive(pids(running.record, "rasa")[0][0])


async def test_restarts_back_off(tmp_path: Path) -> None:
    stack = FakeStack(record=tmp_path, quiet=True)
    stack.ports = {"crashy": free_port()}
    # A child that dies at once every time.
    stack.commands = lambda env: {"crashy": [sys.executable, "-c", "raise SystemExit(3)"]}  # type: ignore[method-assign]
    await stack.start()
    supervisor = Supervisor(stack, FAST)
    stop = asyncio.Event()
    task = asyncio.create_task(supervisor.run(stop))
    await asyncio.sleep(2.0)
    stop.set()
    await task
    await stack.stop()
    # 0.2 + 0.4 + 0.8 s of back-off (plus checks) fit about 3-4 restarts in 2 s, not 20.
    assert 2 <= len(supervisor.restarts["crashy"]) <= 5
    assert set(supervisor.restarts["crashy"]) == {"exited with code 3"}


async def test_stop_is_ordered_and_leaves_no_process_and_no_port_behind(running: Running) -> None:
    every = {name: pids(running.record, name)[0] for name in running.stack.ports}
    await running.stack.stop()
    # The gateway drained for a second while Rasa still answered.
    assert (running.record / "gateway.drained").read_text() == "ok"
    for name, (leader, worker) in every.items():
        assert not alive(leader) and not alive(worker), name
    assert all(port_free(port) for port in running.stack.ports.values())
