"""Run the whole product on one machine: action server, Rasa server, gateway.

`python -m bot.supervisor` (what `make run` calls) starts the processes with
their output prefixed, waits until the gateway reports all of them healthy,
prints the address of the demo shop, keeps them running (bot/supervision.py
restarts a child that exits or stops answering its health check), and stops
everything on Ctrl-C or SIGTERM: the gateway first, so it drains its turns
while Rasa and the action server still answer. Each child runs in a session
of its own and is stopped as a whole process group, so no worker process is
left holding a port. The end-to-end tests and the benchmark start the same
`Stack` on free ports. In production, systemd runs the same commands
(deploy/systemd/, docs/deploy.md).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import socket
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bot import scaled
from bot.supervision import Supervisor
from bot.supervisor_settings import SupervisorSettings, banner, decide_demo, real_customers
from crm.settings import DEFAULT_DATABASE_URL

__all__ = ["ROOT", "SECRETS_FILE", "Stack", "banner", "decide_demo", "free_port", "local_secrets", "real_customers"]

ROOT = Path(__file__).resolve().parent.parent
SECRETS_FILE = ROOT / "var" / "secrets.env"
COLOURS = {"actions": "\033[35m", "rasa": "\033[36m", "gateway": "\033[32m"}
RESET = "\033[0m"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def local_secrets(path: Path = SECRETS_FILE) -> dict[str, str]:
    """Secrets for a one-machine install, made once and kept in var/ (mode 600).

    A shop owner who sets RASA_TOKEN / WIDGET_IDENTITY_SECRET / STAFF_SESSION_SECRET /
    ACTION_SERVER_TOKEN in the environment
    or .env keeps control; otherwise they never have to invent one.
    """
    values: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            key, sep, value = line.partition("=")
            if sep:
                values[key.strip()] = value.strip()
    changed = False
    for key in ("RASA_TOKEN", "WIDGET_IDENTITY_SECRET", "STAFF_SESSION_SECRET", "ACTION_SERVER_TOKEN"):
        if not values.get(key):
            values[key] = secrets.token_urlsafe(32)
            changed = True
    if changed:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
        path.chmod(0o600)
    return values


@dataclass
class Stack:
    """The three processes and the settings they share."""

    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    rasa_port: int = 5005
    action_port: int = 5055
    gateway_port: int = 8000
    model: Path = ROOT / "models" / "assistant.tar.gz"
    quiet: bool = False
    log_dir: Path | None = None
    processes: dict[str, asyncio.subprocess.Process] = field(default_factory=dict)
    # Children stopped first on the way down, in this order (the rest after, in reverse start order).
    stop_first: tuple[str, ...] = ("gateway",)
    # How long a child may take to stop before its whole group is killed.
    stop_grace: float = 15.0
    # Set once stop() begins: a child exiting from here on is not restarted.
    stopping: bool = False
    _pumps: list[asyncio.Task[None]] = field(default_factory=list)
    _env: dict[str, str] | None = None
    # Ports of the second and later Rasa / action servers (RASA_SERVERS > 1).
    _ports: dict[tuple[str, int], int] = field(default_factory=dict)

    def port(self, kind: str, i: int) -> int:
        if i == 0:
            return self.rasa_port if kind == "rasa" else self.action_port
        return self._ports.setdefault((kind, i), free_port())

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"

    @property
    def rasa_url(self) -> str:
        return f"http://127.0.0.1:{self.rasa_port}"

    def child_env(self) -> dict[str, str]:
        env = dict(self.env)
        for key, value in local_secrets(SECRETS_FILE).items():
            env.setdefault(key, value)
        env.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
        env.setdefault("TRACKER_STORE_URL", f"sqlite:///{ROOT / 'var' / 'rasa.db'}")
        env["ACTION_ENDPOINT_URL"] = f"http://127.0.0.1:{self.action_port}/webhook"
        env["ACTION_SERVER_URL"] = f"http://127.0.0.1:{self.action_port}"
        env["RASA_URL"] = self.rasa_url
        env["GATEWAY_PORT"] = str(self.gateway_port)
        # The action server listens on loopback and answers only Rasa's token (endpoints.yml).
        env["ACTION_PORT"] = str(self.action_port)
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        env.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")
        env.setdefault("PYTHONUNBUFFERED", "1")
        count = scaled.server_count(env)
        if count > 1:
            scaled.check(env)
            env.update(scaled.lock_store_env(env["REDIS_URL"]))
            env["RASA_URLS"] = ",".join(f"http://127.0.0.1:{self.port('rasa', i)}" for i in range(count))
        return env

    def commands(self, env: Mapping[str, str]) -> dict[str, list[str]]:
        app_py = str(ROOT / ".venv" / "bin" / "python")
        rasa_py = str(ROOT / ".venv-rasa" / "bin" / "python")
        commands = {
            "actions": [app_py, "-m", "actions.server"],
            # The API token goes by environment (RASA_TOKEN), never on a command line `ps` shows.
            "rasa": [
                rasa_py, "-m", "rasa_ext.serve", "run", "--model", str(self.model), "--endpoints", "endpoints.yml",
                "--credentials", "credentials.yml", "-i", "127.0.0.1", "-p", str(self.rasa_port),
                "--enable-api",
            ],
            # No per-message deflate: the widget's frames are a few hundred bytes, and zlib on
            # each was a quarter of the gateway's CPU per message (docs/performance.md).
            "gateway": [
                app_py, "-m", "uvicorn", "bot.app:create_app", "--factory", "--host", "127.0.0.1",
                "--port", str(self.gateway_port), "--ws-max-size", "65536", "--ws-per-message-deflate", "false",
                "--no-access-log",
            ],
            "worker": [app_py, "-m", "bot", "worker"],
        }
        return scaled.expand(
            commands,
            count=scaled.server_count(env),
            rasa_port=lambda i: self.port("rasa", i),
            action_port=lambda i: self.port("actions", i),
        )

    def health_urls(self) -> dict[str, str | None]:
        """Where each child says it is alive; None: judged by its exit alone."""
        return {
            "actions": f"http://127.0.0.1:{self.action_port}/health",
            "rasa": f"{self.rasa_url}/",
            "gateway": f"{self.gateway_url}/livez",
        }

    async def start(self) -> None:
        self._env = self.child_env()
        if self.log_dir:
            self.log_dir.mkdir(parents=True, exist_ok=True)
        for name in self.commands(self._env):
            await self.start_child(name)

    async def start_child(self, name: str) -> asyncio.subprocess.Process:
        """(Re)start one child in a new session: it and its workers form one process group."""
        env = self._env or self.child_env()
        cmd = self.commands(env)[name]
        proc = await asyncio.create_subprocess_exec(
            *cmd, cwd=ROOT, env=scaled.process_env(name, env, action_port=lambda i: self.port("actions", i)),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT, start_new_session=True,
        )
        self.processes[name] = proc
        self._pumps.append(asyncio.create_task(self._pump(name, proc)))
        return proc

    def signal_group(self, name: str, sig: signal.Signals) -> None:
        """Signal every process of the child's group, the leader alive or not (orphans included)."""
        proc = self.processes.get(name)
        if proc is None:
            return
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    async def stop_child(self, name: str, grace: float | None = None) -> None:
        """SIGTERM to the group, then SIGKILL to whatever of it is left after `grace`."""
        proc = self.processes.get(name)
        if proc is None:
            return
        if proc.returncode is None:
            self.signal_group(name, signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), self.stop_grace if grace is None else grace)
            except asyncio.TimeoutError:
                pass
        # The leader may be gone while a worker it forked still holds the port.
        self.signal_group(name, signal.SIGKILL)
        await proc.wait()

    async def _pump(self, name: str, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        log = (self.log_dir / f"{name}.log").open("a") if self.log_dir else None
        prefix = f"{COLOURS.get(name, '')}{name:>8}{RESET} | " if sys.stdout.isatty() else f"{name:>8} | "
        try:
            async for raw in proc.stdout:
                line = raw.decode(errors="replace").rstrip()
                if log:
                    log.write(line + "\n")
                    log.flush()
                if not self.quiet:
                    print(prefix + line, flush=True)
        finally:
            if log:
                log.close()

    def exited(self) -> list[str]:
        return [n for n, p in self.processes.items() if p.returncode is not None]

    async def wait_healthy(self, timeout: float = 180.0) -> None:
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(timeout=5) as client:
            while time.monotonic() < deadline:
                if dead := self.exited():
                    raise RuntimeError(f"{', '.join(dead)} exited during start-up")
                try:
                    response = await client.get(f"{self.gateway_url}/healthz")
                    if response.status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.5)
        raise TimeoutError(f"the stack was not healthy after {timeout:.0f}s")

    async def stop(self, grace: float | None = None) -> None:
        """Ordered: the gateway stops taking messages and drains its turns while Rasa and the
        action server still answer; then the rest go down together."""
        self.stopping = True
        first = [name for name in self.stop_first if name in self.processes]
        rest = [name for name in reversed(list(self.processes)) if name not in first]
        for name in first:
            await self.stop_child(name, grace)
        await asyncio.gather(*(self.stop_child(name, grace) for name in rest))
        for pump in self._pumps:
            pump.cancel()


async def _main() -> int:
    settings = SupervisorSettings()
    env = dict(os.environ)  # what the children inherit
    demo, demo_line = decide_demo(env, real_customers(settings.database_url) if settings.demo_mode else 0)
    env["DEMO_MODE"] = "true" if demo else "false"
    stack = Stack(
        env=env,
        rasa_port=settings.rasa_port,
        action_port=settings.action_port,
        gateway_port=settings.gateway_port,
    )
    if not stack.model.exists():
        print(f"No trained model at {stack.model}: run `make train` first.", file=sys.stderr)
        return 1
    try:
        stack.child_env()
    except scaled.ScaledConfigError as exc:
        print(f"Cannot start: {exc}", file=sys.stderr)
        return 1
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    started = time.monotonic()
    await stack.start()
    try:
        health = asyncio.create_task(stack.wait_healthy())
        stopped = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait({health, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if health in done:
            health.result()
            print(
                banner(
                    url=stack.gateway_url,
                    seconds=time.monotonic() - started,
                    demo=demo,
                    demo_line=demo_line,
                ),
                flush=True,
            )
            await Supervisor(stack).run(stop)
        else:
            health.cancel()
        return 0
    except (RuntimeError, TimeoutError) as exc:
        print(f"Start-up failed: {exc}", file=sys.stderr)
        return 1
    finally:
        print("Stopping…", flush=True)
        await stack.stop()


def main() -> None:
    raise SystemExit(asyncio.run(_main()))


if __name__ == "__main__":
    main()
