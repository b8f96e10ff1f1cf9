"""Benchmark: the same short conversations (a) straight to Rasa's REST webhook
and (b) through the gateway's WebSocket, sequentially and with 20 concurrent
conversations, plus the time from starting the supervisor to the first answer.

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
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx
import websockets

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.supervisor import Stack, free_port  # noqa: E402

# Short, realistic conversations; the verified ones carry the demo customer's
# signed identity so actions read the CRM.
CONVERSATIONS: list[tuple[str | None, list[str]]] = [
    (None, ["hi", "what delivery options do you have", "which payment methods do you accept", "thanks, bye"]),
    ("C001", ["hello", "where is my order", "can i see my last orders", "thank you"]),
    (None, ["hey there", "what is your return policy", "can you recommend something", "bye"]),
    ("C002", ["hi", "i need a copy of my invoice for order 1040", "how do i pay", "thanks"]),
]


@dataclass
class Run:
    latencies: list[float] = field(default_factory=list)
    messages: int = 0
    seconds: float = 0.0
    failures: int = 0

    def summary(self) -> dict[str, float]:
        lat = sorted(self.latencies)
        pct = lambda p: lat[min(len(lat) - 1, int(round(p * (len(lat) - 1))))] * 1000 if lat else float("nan")  # noqa: E731
        return {
            "messages": self.messages,
            "failures": self.failures,
            "p50_ms": round(pct(0.50), 1),
            "p95_ms": round(pct(0.95), 1),
            "mean_ms": round(statistics.fmean(lat) * 1000, 1) if lat else float("nan"),
            "msgs_per_s": round(self.messages / self.seconds, 2) if self.seconds else 0.0,
        }


def signature(secret: str, customer_id: str, expires: int) -> str:
    return hmac.new(secret.encode(), f"{customer_id}:{expires}".encode(), hashlib.sha256).hexdigest()


async def rasa_conversation(client: httpx.AsyncClient, stack: Stack, token: str, customer: str | None, texts: list[str], run: Run) -> None:
    sender = uuid.uuid4().hex
    for text in texts:
        started = time.perf_counter()
        response = await client.post(
            f"{stack.rasa_url}/webhooks/gateway/webhook",
            headers={"Authorization": f"Bearer {token}"},
            json={"sender": sender, "message": text, "metadata": {"channel": "web", "customer_id": customer, "locale": "en"}},
        )
        if response.status_code != 200 or not response.json():
            run.failures += 1
        run.latencies.append(time.perf_counter() - started)
        run.messages += 1


async def widget_conversation(stack: Stack, secret: str, customer: str | None, texts: list[str], run: Run) -> None:
    expires = int(time.time()) + 3600
    query = (
        f"customer_id={customer}&expires={expires}&signature={signature(secret, customer, expires)}" if customer else ""
    )
    url = f"ws://127.0.0.1:{stack.gateway_port}/ws/chat?{query}"
    async with websockets.connect(url, max_size=2**20) as ws:
        # session + history frames first
        while True:
            frame = json.loads(await ws.recv())
            if frame["type"] == "history":
                break
        for text in texts:
            client_id = str(uuid.uuid4())
            started = time.perf_counter()
            await ws.send(json.dumps({"type": "message", "id": client_id, "text": text}))
            answered = False
            while True:
                frame = json.loads(await asyncio.wait_for(ws.recv(), 30))
                if frame["type"] == "message" and frame.get("from") == "bot":
                    answered = True
                if frame["type"] == "message" and frame.get("from") == "system":
                    run.failures += 1  # the gateway's apology: the assistant failed
                    break
                if frame["type"] == "typing" and frame["on"] is False and answered:
                    break
                if frame["type"] == "error":
                    run.failures += 1
                    break
            run.latencies.append(time.perf_counter() - started)
            run.messages += 1


async def measure(kind: str, stack: Stack, env: dict[str, str], concurrency: int, rounds: int) -> Run:
    run = Run()
    jobs = [CONVERSATIONS[i % len(CONVERSATIONS)] for i in range(concurrency * rounds)]
    semaphore = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=concurrency + 5)) as client:

        async def one(job: tuple[str | None, list[str]]) -> None:
            async with semaphore:
                customer, texts = job
                if kind == "rasa":
                    await rasa_conversation(client, stack, env["RASA_TOKEN"], customer, texts, run)
                else:
                    await widget_conversation(stack, env["WIDGET_IDENTITY_SECRET"], customer, texts, run)

        started = time.perf_counter()
        await asyncio.gather(*(one(job) for job in jobs))
        run.seconds = time.perf_counter() - started
    return run


def rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants, in MiB."""
    total = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
            pending.extend(int(c) for c in children)
        except (FileNotFoundError, ProcessLookupError):
            continue
    return round(total / 1024, 1)


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


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=2, help="conversations per concurrent slot")
    parser.add_argument("--sequential", type=int, default=8, help="conversations in the sequential run")
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "reports" / "bench.json")
    args = parser.parse_args()

    from crm.db import session_scope
    from crm.demo import seed_demo
    from crm.migrate import upgrade

    work = Path(tempfile.mkdtemp(prefix="juniper-bench-"))
    env = {
        **os.environ,
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
    upgrade(env["DATABASE_URL"])
    with session_scope(env["DATABASE_URL"]) as session:
        seed_demo(session)

    startup = await time_to_first_answer(env)

    stack = Stack(env=env, rasa_port=free_port(), action_port=free_port(), gateway_port=free_port(), quiet=True, log_dir=work / "logs")
    await stack.start()
    try:
        await stack.wait_healthy(240)
        # Warm-up: first predictions load lazily.
        await measure("rasa", stack, env, 2, 1)
        await measure("gateway", stack, env, 2, 1)
        results: dict[str, Any] = {}
        for label, concurrency, rounds in (("sequential", 1, args.sequential), ("concurrent", args.concurrency, args.rounds)):
            for kind in ("rasa", "gateway"):
                run = await measure(kind, stack, env, concurrency, rounds)
                results[f"{kind}_{label}"] = run.summary()
        rss = {name: rss_mb(proc.pid) for name, proc in stack.processes.items()}
    finally:
        await stack.stop()

    seq_ratio = results["gateway_sequential"]["p50_ms"] / results["rasa_sequential"]["p50_ms"]
    throughput_ratio = results["gateway_concurrent"]["msgs_per_s"] / results["rasa_concurrent"]["msgs_per_s"]
    report = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.node()} · {os.cpu_count()} cores · {platform.processor() or platform.machine()} · Python {platform.python_version()}",
        "results": results,
        "rss_mb": rss,
        "startup_to_first_answer_s": round(startup, 1),
        "ratios": {
            "gateway_p50_over_rasa_p50_sequential": round(seq_ratio, 3),
            "stack_msgs_per_s_over_rasa_concurrent": round(throughput_ratio, 2),
        },
        "targets": {
            "gateway adds <= 10% to p50": seq_ratio <= 1.10,
            "stack p95 < 500 ms at 20 concurrent": results["gateway_concurrent"]["p95_ms"] < 500,
            "start to first answer < 30 s": startup < 30,
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
