# Over 350 lines on purpose: one benchmark run, start to report, reads best as one script.
"""Benchmark: the same short conversations sent, in one run, to (a) a default
`rasa init` bot with the same Rasa (built once, cached under var/bench/),
(b) this project's Rasa webhook alone, with one and with two Rasa servers, and
(c) the whole stack through the widget's WebSocket; sequentially, with 20
concurrent conversations, and at a constant arrival rate of 20 messages per
second for 30 s; plus the time from starting the supervisor to the first
answer and the memory of every process.

    make bench            (or: .venv/bin/python scripts/bench.py --help)

Prints a table and writes var/reports/bench.json. A measurement, not a test:
targets are reported as met or missed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import aiohttp
import websockets
import websockets.exceptions

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.supervisor import Stack, free_port  # noqa: E402
from scripts.bench_stats import Run, build_report, cpu_profile, table, write_report  # noqa: E402

RASA_PY = ROOT / ".venv-rasa" / "bin" / "python"
BENCH_DIR = ROOT / "var" / "bench"

# Short, realistic conversations; the verified ones carry the demo customer's
# signed identity so actions read the CRM.
CONVERSATIONS: list[tuple[str | None, list[str]]] = [
    (None, ["hi", "what delivery options do you have", "which payment methods do you accept", "thanks, bye"]),
    ("C001", ["hello", "where is my order", "can i see my last orders", "thank you"]),
    (None, ["hey there", "what is your return policy", "can you recommend something", "bye"]),
    ("C002", ["hi", "i need a copy of my invoice for order 1040", "how do i pay", "thanks"]),
]


def signature(secret: str, customer_id: str, expires: int) -> str:
    return hmac.new(secret.encode(), f"{customer_id}:{expires}".encode(), hashlib.sha256).hexdigest()


class HttpConversation:
    """One conversation over a Rasa REST-style webhook (the project's channel or Rasa's `rest`)."""

    def __init__(self, client: aiohttp.ClientSession, url: str, headers: dict[str, str], customer: str | None, project: bool) -> None:
        self.client, self.url, self.headers, self.customer, self.project = client, url, headers, customer, project
        self.sender = uuid.uuid4().hex

    async def send(self, text: str) -> bool:
        body: dict[str, Any] = {"sender": self.sender, "message": text}
        if self.project:
            body["metadata"] = {"channel": "web", "customer_id": self.customer, "locale": "en"}
        async with self.client.post(self.url, headers=self.headers, json=body) as response:
            # The default bot may rightly say nothing to a message it has no story for.
            return response.status == 200 and (not self.project or bool(await response.json(content_type=None)))

    async def close(self) -> None:
        pass


class WidgetConversation:
    """One conversation through the gateway's WebSocket, as the widget has it."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws

    @classmethod
    async def open(cls, gateway_port: int, secret: str, customer: str | None) -> "WidgetConversation":
        expires = int(time.time()) + 3600
        query = (
            f"customer_id={customer}&expires={expires}&signature={signature(secret, customer, expires)}"
            if customer
            else ""
        )
        ws = await websockets.connect(f"ws://127.0.0.1:{gateway_port}/ws/chat?{query}", max_size=2**20)
        while json.loads(await ws.recv())["type"] != "history":  # session + history frames first
            pass
        return cls(ws)

    async def send(self, text: str) -> bool:
        await self.ws.send(json.dumps({"type": "message", "id": str(uuid.uuid4()), "text": text}))
        answered = False
        while True:
            frame = json.loads(await asyncio.wait_for(self.ws.recv(), 30))
            if frame["type"] == "message" and frame.get("from") == "bot":
                answered = True
            if frame["type"] == "message" and frame.get("from") == "system":
                return False  # the gateway's apology: the assistant failed
            if frame["type"] == "error":
                return False
            if frame["type"] == "typing" and frame["on"] is False and answered:
                return True

    async def close(self) -> None:
        await self.ws.close()


@dataclass
class Target:
    """Where a load goes: `kind` is default (rasa init bot), rasa (project's Rasa,
    conversations spread over `urls`) or gateway (the whole stack)."""

    kind: str
    urls: list[str] = field(default_factory=list)
    token: str = ""
    gateway_port: int = 0
    secret: str = ""
    _opened: int = 0

    async def open(self, client: aiohttp.ClientSession, customer: str | None) -> Any:
        self._opened += 1
        if self.kind == "gateway":
            return await WidgetConversation.open(self.gateway_port, self.secret, customer)
        url = self.urls[self._opened % len(self.urls)]  # sticky: one server per conversation
        if self.kind == "default":
            return HttpConversation(client, f"{url}/webhooks/rest/webhook", {}, customer, project=False)
        return HttpConversation(client, f"{url}/webhooks/gateway/webhook", {"Authorization": f"Bearer {self.token}"}, customer, project=True)


SEND_ERRORS = (aiohttp.ClientError, ValueError, OSError, TimeoutError, websockets.exceptions.WebSocketException)


def http_client(connections: int, timeout: float = 60) -> aiohttp.ClientSession:
    """The load generator's HTTP client. aiohttp, not httpx: it shares the machine's two cores
    with what it measures, and costs about a fifth of httpx's CPU per request."""
    return aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=timeout), connector=aiohttp.TCPConnector(limit=connections)
    )


async def _timed_send(conversation: Any, text: str, run: Run) -> None:
    started = time.perf_counter()
    try:
        ok = await conversation.send(text)
    except SEND_ERRORS:
        ok = False
    run.latencies.append(time.perf_counter() - started)
    run.messages += 1
    run.failures += not ok


async def measure(target: Target, concurrency: int, rounds: int) -> Run:
    """Closed loop: `concurrency` conversations at a time, each message sent when the last was answered."""
    run = Run()
    jobs = [CONVERSATIONS[i % len(CONVERSATIONS)] for i in range(concurrency * rounds)]
    semaphore = asyncio.Semaphore(concurrency)
    async with http_client(concurrency + 5) as client:

        async def one(job: tuple[str | None, list[str]]) -> None:
            async with semaphore:
                customer, texts = job
                conversation = await target.open(client, customer)
                try:
                    for text in texts:
                        await _timed_send(conversation, text, run)
                finally:
                    await conversation.close()

        started = time.perf_counter()
        await asyncio.gather(*(one(job) for job in jobs))
        run.seconds = time.perf_counter() - started
    return run


async def measure_rate(target: Target, rate: float, seconds: float) -> Run:
    """Open loop: a message arrives every 1/rate s whatever the answers do. Each
    goes to a conversation waiting for its next message, or a new one; a
    conversation ends after its texts. Latency: from the arrival to the answer."""
    run = Run()
    idle: list[tuple[Any, list[str]]] = []
    tasks: list[asyncio.Task[None]] = []
    async with http_client(200) as client:

        async def deliver(index: int) -> None:
            if idle:
                conversation, texts = idle.pop()
            else:
                customer, all_texts = CONVERSATIONS[index % len(CONVERSATIONS)]
                arrived = time.perf_counter()
                try:
                    conversation, texts = await target.open(client, customer), list(all_texts)
                except SEND_ERRORS:
                    # An overloaded gateway may refuse the connection itself (HTTP 500 on the
                    # WebSocket upgrade): that message failed; the run goes on.
                    run.latencies.append(time.perf_counter() - arrived)
                    run.messages += 1
                    run.failures += 1
                    return
            await _timed_send(conversation, texts.pop(0), run)
            if texts:
                idle.append((conversation, texts))
            else:
                await conversation.close()

        started = time.perf_counter()
        for i in range(int(rate * seconds)):
            await asyncio.sleep(max(0.0, started + i / rate - time.perf_counter()))
            tasks.append(asyncio.create_task(deliver(i)))
        await asyncio.gather(*tasks)
        run.seconds = time.perf_counter() - started
        for conversation, _ in idle:
            await conversation.close()
    return run


def _tree_sum(pid: int, measure: Callable[[int], float]) -> float:
    """`measure` of a process plus all its descendants; a process gone meanwhile counts nothing."""
    total = 0.0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            total += measure(current)
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
            pending.extend(int(c) for c in children)
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def _rss_kib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants, in MiB."""
    return round(_tree_sum(pid, _rss_kib) / 1024, 1)


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process and all its descendants, in seconds."""
    return _tree_sum(pid, _cpu_s)


def own_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


async def time_to_first_answer(env: dict[str, str]) -> float:
    """Seconds from starting `python -m bot.supervisor` (what `make run` runs once
    set up) to the first bot answer over the widget's WebSocket."""
    gateway_port = free_port()
    child_env = {**env, "GATEWAY_PORT": str(gateway_port), "RASA_PORT": str(free_port()), "ACTION_PORT": str(free_port())}
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "bot.supervisor"], cwd=ROOT, env=child_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                async with websockets.connect(f"ws://127.0.0.1:{gateway_port}/ws/chat") as ws:
                    while json.loads(await ws.recv())["type"] != "history":
                        pass
                    await ws.send(json.dumps({"type": "message", "id": str(uuid.uuid4()), "text": "hello"}))
                    while True:
                        frame = json.loads(await asyncio.wait_for(ws.recv(), 60))
                        if frame["type"] == "message" and frame.get("from") == "bot":
                            return time.perf_counter() - started
                        if frame["type"] == "message" and frame.get("from") == "system":
                            break  # the assistant was not up yet: the gateway apologised; try again
            except (OSError, websockets.exceptions.WebSocketException):
                pass
            if proc.poll() is not None:
                raise RuntimeError("the supervisor exited")
            if time.perf_counter() - started > 300:
                raise TimeoutError("no answer within 300 s")
            await asyncio.sleep(0.2)
    finally:
        proc.terminate()
        proc.wait(30)


def bench_env(work: Path) -> dict[str, str]:
    """The stack's settings for a measurement: scratch databases under `work`, no demo, quiet logs."""
    return {
        "DATABASE_URL": f"sqlite:///{work / 'crm.db'}",
        "TRACKER_STORE_URL": f"sqlite:///{work / 'rasa.db'}",
        "RASA_TOKEN": "bench-token-0123456789abcdef",
        "WIDGET_IDENTITY_SECRET": "bench-widget-secret-0123456789",
        "DEMO_MODE": "false",
        "LOG_LEVEL": "WARNING",
        # The benchmark measures the assistant, not the abuse limits: every
        # conversation comes from 127.0.0.1.
        "RATE_LIMIT_IP_PER_MINUTE": "1000000",
        "RATE_LIMIT_IP_BURST": "100000",
        "RATE_LIMIT_CONNECT_PER_MINUTE": "1000000",
        "RATE_LIMIT_CONNECT_BURST": "100000",
    }


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=2, help="conversations per concurrent slot")
    parser.add_argument("--sequential", type=int, default=8, help="conversations in the sequential run")
    parser.add_argument("--rate", type=float, default=20.0, help="messages per second in the constant-rate run")
    parser.add_argument("--seconds", type=float, default=30.0, help="length of the constant-rate run")
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "reports" / "bench.json")
    args = parser.parse_args()

    from crm.db import session_scope
    from crm.demo import seed_demo
    from crm.migrate import upgrade

    work = Path(tempfile.mkdtemp(prefix="juniper-bench-"))
    env = {**os.environ, **bench_env(work)}
    upgrade(env["DATABASE_URL"])
    with session_scope(env["DATABASE_URL"]) as session:
        seed_demo(session)

    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    default_dir = await ensure_default_bot()
    startup = await time_to_first_answer(env)
    results: dict[str, Any] = {}
    rss: dict[str, float] = {}

    async def timed(name: str, load: Any, pids: dict[str, int]) -> None:
        """One run, with the CPU each process (and this load generator) spent on it."""
        before = {n: cpu_seconds(pid) for n, pid in pids.items()}
        own = own_cpu_seconds()
        run = await load
        used = {n: cpu_seconds(pid) - before[n] for n, pid in pids.items()}
        used["bench_client"] = own_cpu_seconds() - own
        results[name] = {**run.summary(), **cpu_profile(used, run.messages, os.cpu_count() or 1)}

    async def runs(
        target: Target, prefix: str, pids: dict[str, int], kinds: tuple[str, ...] = ("sequential", "concurrent", "rate20")
    ) -> None:
        await measure(target, 2, 1)  # warm-up: first predictions load lazily
        if "sequential" in kinds:
            await timed(f"{prefix}_sequential", measure(target, 1, args.sequential), pids)
        if "concurrent" in kinds:
            await timed(f"{prefix}_concurrent", measure(target, args.concurrency, args.rounds), pids)
        if "rate20" in kinds:
            await timed(f"{prefix}_rate20", measure_rate(target, args.rate, args.seconds), pids)

    # One server at a time, so no idle process competes for the two cores.
    default_port = free_port()
    default = await start_rasa_process(
        [str(ROOT / ".venv-rasa" / "bin" / "rasa"), "run", "--model", "models", "-i", "127.0.0.1", "-p", str(default_port)],
        cwd=default_dir, env=env, url=f"http://127.0.0.1:{default_port}", log=work / "default.log",
    )
    try:
        await runs(Target("default", urls=[f"http://127.0.0.1:{default_port}"]), "default", {"rasa_default_bot": default.pid})
        rss["rasa_default_bot"] = rss_mb(default.pid)
    finally:
        await stop_process(default)

    stack = Stack(env=env, rasa_port=free_port(), action_port=free_port(), gateway_port=free_port(), quiet=True, log_dir=work / "logs")
    await stack.start()
    second = None
    try:
        await stack.wait_healthy(240)
        token = env["RASA_TOKEN"]
        pids = {name: proc.pid for name, proc in stack.processes.items()}
        await runs(Target("rasa", urls=[stack.rasa_url], token=token), "rasa", pids)
        await runs(Target("gateway", gateway_port=stack.gateway_port, secret=env["WIDGET_IDENTITY_SECRET"]), "gateway", pids)
        rss.update({name: rss_mb(proc.pid) for name, proc in stack.processes.items()})
        # A second Rasa server of the project on the same tracker store, with
        # conversations spread over both (what RASA_SERVERS=2 would run).
        second_port = free_port()
        command = stack.commands(stack.child_env())["rasa"]
        command[command.index("-p") + 1] = str(second_port)
        second_url = f"http://127.0.0.1:{second_port}"
        second = await start_rasa_process(command, cwd=ROOT, env=stack.child_env(), url=second_url, log=work / "rasa2.log", token=token)
        await runs(
            Target("rasa", urls=[stack.rasa_url, second_url], token=token), "rasa2", {**pids, "rasa_second": second.pid}, ("concurrent", "rate20")
        )
        rss["rasa_second"] = rss_mb(second.pid)
    finally:
        if second is not None:
            await stop_process(second)
        await stack.stop()

    report = build_report(
        date=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        machine=f"{platform.node()} · {os.cpu_count()} cores · {platform.processor() or platform.machine()} · Python {platform.python_version()}",
        load=load,
        results=results,
        rss_mb=rss,
        startup_s=round(startup, 1),
    )
    write_report(report, args.out)
    print(table(report))
    print(f"\nwritten to {args.out}")
    return 0


async def ensure_default_bot() -> Path:
    """A default `rasa init` bot trained with this Rasa, built once (var/bench/default-<version>)."""
    version = subprocess.run([str(RASA_PY), "-c", "import rasa; print(rasa.__version__)"], capture_output=True, text=True, check=True).stdout.strip()
    directory = BENCH_DIR / f"default-{version}"
    if not list((directory / "models").glob("*.tar.gz")):
        directory.mkdir(parents=True, exist_ok=True)  # `rasa init --init-dir` wants it to exist
        print(f"building the default rasa init bot in {directory} (once)", file=sys.stderr)
        # The machine-wide training lock of scripts/train.sh: one training at a time.
        subprocess.run(
            ["flock", "/tmp/juniper-rasa-train.lock", str(ROOT / ".venv-rasa" / "bin" / "rasa"), "init", "--no-prompt", "--init-dir", str(directory)],
            cwd=directory.parent, check=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
        )
    return directory


async def start_rasa_process(command: list[str], *, cwd: Path, env: dict[str, str], url: str, log: Path, token: str = "") -> asyncio.subprocess.Process:
    """Start a Rasa server and wait until it answers a message."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(*command, cwd=cwd, env=env, stdout=out, stderr=asyncio.subprocess.STDOUT, start_new_session=True)
    project = bool(token)
    deadline = time.perf_counter() + 300
    async with http_client(5, timeout=30) as client:
        probe = HttpConversation(
            client,
            f"{url}/webhooks/{'gateway' if project else 'rest'}/webhook",
            {"Authorization": f"Bearer {token}"} if project else {},
            None,
            project,
        )
        while time.perf_counter() < deadline:
            if proc.returncode is not None:
                raise RuntimeError(f"{command[0]} exited; see {log}")
            try:
                if await probe.send("hello"):
                    return proc
            except SEND_ERRORS:
                pass
            await asyncio.sleep(0.5)
    proc.terminate()
    raise TimeoutError(f"no answer from {url} within 300 s; see {log}")


async def stop_process(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), 30)
        except TimeoutError:
            proc.kill()
            await proc.wait()


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
