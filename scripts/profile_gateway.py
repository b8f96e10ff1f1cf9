"""The gateway's own cost per customer message, with an instant fake Rasa (a measurement, not a test).

    .venv/bin/python scripts/profile_gateway.py [--port 18580] [--sequential 25] [--concurrency 20,50]
                                                [--rounds 2] [--cprofile] [--out var/reports/profile_gateway.json]

Starts the real gateway app (bot.app.create_app) in a child process on a
scratch SQLite CRM (migrated, demo data seeded, as `make bench` does), with
Rasa and the action server answered at once by tests/fakes/rasa.py (one reply
per message, and the parse header our channel sends, so the review
bookkeeping runs as in production). This process then plays widget customers
over the WebSocket exactly as scripts/bench.py does (four-message
conversations, half of them signed-in customers), one at a time and N at a
time, and times each message from the frame sent to "typing off" after the
bot's reply; and each `ack`.

The child counts, per phase, every SQL statement (by verb) and every commit
(SQLAlchemy engine events), and every unit of work the gateway runs (by
function: how many per message, time inside the worker thread, time the event
loop waited for it). `--cprofile` also profiles the gateway's event-loop thread
and prints the functions that cost the most. Prints tables and writes
var/reports/profile_gateway.json. Ports: `--port` for the gateway (the child
listens on 127.0.0.1 only).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CONVERSATIONS: list[tuple[str | None, list[str]]] = [
    (None, ["hi", "what delivery options do you have", "which payment methods do you accept", "thanks, bye"]),
    ("C001", ["hello", "where is my order", "can i see my last orders", "thank you"]),
    (None, ["hey there", "what is your return policy", "can you recommend something", "bye"]),
    ("C002", ["hi", "i need a copy of my invoice for order 1040", "how do i pay", "thanks"]),
]
SECRET = "profile-widget-secret-0123456789"
CONTROL = "/__profile"


# -- the child: the gateway, instrumented ------------------------------------------------


class Counters:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.statements: dict[str, int] = defaultdict(int)
            self.statement_seconds = 0.0
            self.commits = 0
            self.units: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0])  # count, in thread, awaited
            self.unit_statements: dict[str, int] = defaultdict(int)
            self.rasa_calls = 0

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "statements": dict(self.statements),
                "statement_seconds": self.statement_seconds,
                "commits": self.commits,
                "units": {k: {"count": v[0], "thread_s": v[1], "awaited_s": v[2]} for k, v in self.units.items()},
                "unit_statements": dict(self.unit_statements),
                "rasa_calls": self.rasa_calls,
            }


def _label(fn: Any) -> str:
    while hasattr(fn, "func"):
        fn = fn.func
    return f"{getattr(fn, '__module__', '?').removeprefix('bot.')}.{getattr(fn, '__qualname__', repr(fn))}"


def instrument(counters: Counters) -> None:
    """Engine events and wrappers around the gateway's units of work (bot.core.db, bot.intake.door)."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    import bot.core.db as core_db
    from bot.intake.door import Intake

    current = threading.local()

    @event.listens_for(Engine, "before_cursor_execute")
    def _before(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        conn.info["profile_started"] = time.perf_counter()

    @event.listens_for(Engine, "after_cursor_execute")
    def _after(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        took = time.perf_counter() - conn.info.pop("profile_started", time.perf_counter())
        verb = statement.lstrip().split(None, 1)[0].upper()
        with counters.lock:
            counters.statements[verb] += 1
            counters.statement_seconds += took
            counters.unit_statements[getattr(current, "label", "(other)")] += 1

    @event.listens_for(Engine, "commit")
    def _commit(conn):  # type: ignore[no-untyped-def]
        with counters.lock:
            counters.commits += 1

    original_run = core_db.run_unit

    def run_unit(db: Any, fn: Any, /, **kwargs: Any) -> Any:
        label = _label(fn)
        current.label = label
        started = time.perf_counter()
        try:
            return original_run(db, fn, **kwargs)
        finally:
            took = time.perf_counter() - started
            current.label = None
            with counters.lock:
                counters.units[label][0] += 1
                counters.units[label][1] += took

    core_db.run_unit = run_unit

    def awaited(original: Any) -> Any:
        async def wrapper(self: Any, fn: Any, /, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return await original(self, fn, **kwargs)
            finally:
                with counters.lock:
                    counters.units[_label(fn)][2] += time.perf_counter() - started

        return wrapper

    core_db.UnitOfWork.db = awaited(core_db.UnitOfWork.db)  # type: ignore[method-assign]
    core_db.UnitOfWork.read = awaited(core_db.UnitOfWork.read)  # type: ignore[method-assign]
    if hasattr(core_db.UnitOfWork, "note"):
        core_db.UnitOfWork.note = awaited(core_db.UnitOfWork.note)  # type: ignore[attr-defined]

    original_intake = Intake._unit_of_work

    def intake_unit(self: Any, fn: Any) -> Any:
        label = "intake:" + _label(fn)
        current.label = label
        started = time.perf_counter()
        try:
            return original_intake(self, fn)
        finally:
            current.label = None
            with counters.lock:
                counters.units[label][0] += 1
                counters.units[label][1] += time.perf_counter() - started

    Intake._unit_of_work = intake_unit  # type: ignore[method-assign]


def serve(args: argparse.Namespace) -> None:
    import cProfile
    import pstats

    import httpx
    import uvicorn
    from fastapi import FastAPI

    from bot.app import create_app
    from tests.fakes.gateway import gateway_settings
    from tests.fakes.rasa import FakeRasa, RasaCall

    counters = Counters()
    instrument(counters)
    if args.sqlite_synchronous:
        # What-if: every gateway connection at this safety level (not what the gateway does).
        from sqlalchemy import event
        from sqlalchemy.pool import Pool

        @event.listens_for(Pool, "connect")
        def _synchronous(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            dbapi_connection.execute(f"PRAGMA synchronous={args.sqlite_synchronous}")

    def parse(_call: RasaCall) -> dict[str, Any]:
        counters.rasa_calls += 1
        return {"intent": "greet", "confidence": 0.97, "ranking": [["greet", 0.97], ["goodbye", 0.02]]}

    fake = FakeRasa(parse=parse)
    # The fake keeps every call; a long run must not grow it.
    fake.calls = _Forgetful()
    settings = gateway_settings(
        args.db,
        widget_identity_secret=SECRET,
        rasa_timeout_seconds=8.0,
        log_level="WARNING",
        rate_limit_ip_per_minute=1_000_000,
        rate_limit_ip_burst=100_000,
        rate_limit_connect_per_minute=1_000_000,
        rate_limit_connect_burst=100_000,
    )
    app: FastAPI = create_app(settings, http_transport=httpx.MockTransport(fake.handler))
    profiler = cProfile.Profile() if args.cprofile else None

    async def reset() -> dict[str, bool]:
        fake.events.clear()
        counters.reset()
        if profiler is not None:
            profiler.enable()
        return {"ok": True}

    async def dump() -> dict[str, Any]:
        if profiler is not None:
            profiler.disable()
        snapshot = counters.snapshot()
        if profiler is not None and profiler.getstats():
            path = Path(args.stats_dir) / f"cprofile-{uuid.uuid4().hex[:8]}.pstats"
            pstats.Stats(profiler).dump_stats(path)
            profiler.clear()
            snapshot["cprofile"] = str(path)
        return snapshot

    app.add_api_route(CONTROL + "/reset", reset, methods=["POST"])
    app.add_api_route(CONTROL + "/dump", dump, methods=["POST"])
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=args.port,
        log_config=None,
        access_log=False,
        lifespan="on",
        ws_max_size=65536,
        # As bot/supervisor.py starts the gateway (`--ws-deflate on`: uvicorn's default, as before).
        ws_per_message_deflate=args.ws_deflate == "on",
    )


class _Forgetful(list):  # type: ignore[type-arg]
    def append(self, _item: Any) -> None:
        return None


# -- the parent: widget customers ------------------------------------------------------------


class Run:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.acks: list[float] = []
        self.failures = 0
        self.refused = 0  # conversations whose WebSocket the gateway refused (e.g. HTTP 500: CRM locked)
        self.started = time.perf_counter()
        self.seconds = 0.0

    def summary(self) -> dict[str, Any]:
        ms = sorted(x * 1000 for x in self.latencies)
        acks = sorted(x * 1000 for x in self.acks)

        def pct(values: list[float], p: float) -> float:
            return round(values[min(len(values) - 1, int(p * len(values)))], 1) if values else 0.0

        return {
            "messages": len(ms),
            "failures": self.failures,
            "refused_connections": self.refused,
            "seconds": round(self.seconds, 2),
            "msg_per_s": round(len(ms) / self.seconds, 1) if self.seconds else 0.0,
            "p50_ms": round(statistics.median(ms), 1) if ms else 0.0,
            "p95_ms": pct(ms, 0.95),
            "p99_ms": pct(ms, 0.99),
            "ack_p50_ms": round(statistics.median(acks), 1) if acks else 0.0,
            "ack_p95_ms": pct(acks, 0.95),
        }


def _signature(customer: str, expires: int) -> str:
    import hashlib
    import hmac

    return hmac.new(SECRET.encode(), f"{customer}:{expires}".encode(), hashlib.sha256).hexdigest()


async def conversation(port: int, customer: str | None, texts: list[str], run: Run, done: list[int]) -> None:
    """The conversation's messages, timed into `run`; `done[0]` counts the ones answered or failed."""
    import websockets

    query = ""
    if customer:
        expires = int(time.time()) + 3600
        query = f"customer_id={customer}&expires={expires}&signature={_signature(customer, expires)}"
    async with websockets.connect(f"ws://127.0.0.1:{port}/ws/chat?{query}", max_size=2**20) as ws:
        while json.loads(await ws.recv())["type"] != "history":
            pass
        for text in texts:
            started = time.perf_counter()
            await ws.send(json.dumps({"type": "message", "id": uuid.uuid4().hex, "text": text}))
            answered = ok = False
            while True:
                frame = json.loads(await asyncio.wait_for(ws.recv(), 30))
                kind = frame["type"]
                if kind == "ack":
                    run.acks.append(time.perf_counter() - started)
                elif kind == "message" and frame.get("from") == "bot":
                    answered = True
                elif kind == "error" or (kind == "message" and frame.get("from") == "system"):
                    break
                elif kind == "typing" and frame["on"] is False and answered:
                    ok = True
                    break
            run.latencies.append(time.perf_counter() - started)
            run.failures += not ok
            done[0] += 1


async def phase(port: int, concurrency: int, conversations: int) -> Run:
    run = Run()
    semaphore = asyncio.Semaphore(concurrency)

    async def one(index: int) -> None:
        import websockets

        customer, texts = CONVERSATIONS[index % len(CONVERSATIONS)]
        async with semaphore:
            done = [0]
            try:
                await conversation(port, customer, texts, run, done)
            except (OSError, TimeoutError, websockets.exceptions.WebSocketException):
                # Counted like scripts/bench.py: every message of the conversation not answered fails.
                run.refused += 1
                run.failures += len(texts) - done[0]

    run.started = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(conversations)))
    run.seconds = time.perf_counter() - run.started
    return run


async def control(port: int, what: str) -> dict[str, Any]:
    import httpx

    async with httpx.AsyncClient(timeout=30) as http:
        response = await http.post(f"http://127.0.0.1:{port}{CONTROL}/{what}")
        response.raise_for_status()
        return response.json()


def per_message(stats: dict[str, Any], messages: int) -> dict[str, Any]:
    n = max(messages, 1)
    units = {
        name: {
            "per_msg": round(u["count"] / n, 2),
            "thread_ms": round(1000 * u["thread_s"] / max(u["count"], 1), 2),
            "awaited_ms": round(1000 * u["awaited_s"] / max(u["count"], 1), 2),
            "statements_per_msg": round(stats["unit_statements"].get(name, 0) / n, 2),
        }
        for name, u in sorted(stats["units"].items(), key=lambda kv: -kv[1]["count"])
    }
    return {
        "commits_per_msg": round(stats["commits"] / n, 2),
        "statements_per_msg": round(sum(stats["statements"].values()) / n, 2),
        "by_verb_per_msg": {k: round(v / n, 2) for k, v in sorted(stats["statements"].items())},
        "sql_ms_per_msg": round(1000 * stats["statement_seconds"] / n, 2),
        "units": units,
    }


def print_profile(path: str, limit: int = 25) -> None:
    import pstats

    stats = pstats.Stats(path)
    stats.sort_stats("tottime").print_stats(limit)


async def drive(args: argparse.Namespace) -> int:
    from crm.db import session_scope
    from crm.demo import seed_demo
    from crm.migrate import upgrade

    work = Path(tempfile.mkdtemp(prefix="profile-gateway-", dir=ROOT / "var"))
    db = f"sqlite:///{work / 'crm.db'}"
    upgrade(db)
    with session_scope(db) as session:
        seed_demo(session)
    command = [sys.executable, __file__, "--serve", "--port", str(args.port), "--db", db, "--stats-dir", str(work)]
    if args.cprofile:
        command.append("--cprofile")
    if args.sqlite_synchronous:
        command += ["--sqlite-synchronous", args.sqlite_synchronous]
    command += ["--ws-deflate", args.ws_deflate]
    log = open(work / "gateway.log", "w")  # noqa: SIM115 - closed below
    child = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    results: dict[str, Any] = {
        "when": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "load_before": " ".join(Path("/proc/loadavg").read_text().split()[:3]),
        "sqlite_synchronous": args.sqlite_synchronous or "as the gateway sets it",
        "ws_deflate": args.ws_deflate,
        "phases": {},
    }
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                await control(args.port, "dump")
                break
            except Exception:
                if child.poll() is not None or time.monotonic() > deadline:
                    print((work / "gateway.log").read_text()[-3000:], file=sys.stderr)
                    raise SystemExit("the gateway did not start")
                await asyncio.sleep(0.2)
        await phase(args.port, 2, 4)  # warm-up
        plan = [("sequential", 1, args.sequential)] + [
            (f"concurrent_{c}", c, c * args.rounds) for c in args.concurrency
        ]
        for name, concurrency, conversations in plan:
            await control(args.port, "reset")
            run = await phase(args.port, concurrency, conversations)
            stats = await control(args.port, "dump")
            summary = run.summary()
            summary["db"] = per_message(stats, summary["messages"])
            summary["rasa_calls"] = stats["rasa_calls"]
            if "cprofile" in stats:
                summary["cprofile"] = stats["cprofile"]
            results["phases"][name] = summary
    finally:
        child.terminate()
        try:
            child.wait(20)
        except subprocess.TimeoutExpired:
            child.kill()
        log.close()
    results["load_after"] = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    report(results, args.cprofile)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print(f"\nwritten: {args.out}  (scratch: {work})")
    return 0


def report(results: dict[str, Any], cprofile: bool) -> None:
    print(f"{results['when']}, load {results['load_before']} -> {results['load_after']}")
    print(f"{'phase':<16}{'msgs':>6}{'fail':>6}{'refused':>8}{'msg/s':>8}{'p50':>8}{'p95':>8}{'p99':>8}{'ack p50':>9}"
          f"{'commits':>9}{'stmts':>7}{'sql ms':>8}")
    for name, s in results["phases"].items():
        d = s["db"]
        print(f"{name:<16}{s['messages']:>6}{s['failures']:>6}{s['refused_connections']:>8}{s['msg_per_s']:>8}{s['p50_ms']:>8}{s['p95_ms']:>8}"
              f"{s['p99_ms']:>8}{s['ack_p50_ms']:>9}{d['commits_per_msg']:>9}{d['statements_per_msg']:>7}"
              f"{d['sql_ms_per_msg']:>8}")
    for name, s in results["phases"].items():
        print(f"\n{name}: units of work per message (count, ms in the worker thread, ms the loop waited, statements)")
        for unit, u in s["db"]["units"].items():
            print(f"  {unit:<58}{u['per_msg']:>6}{u['thread_ms']:>8}{u['awaited_ms']:>8}{u['statements_per_msg']:>6}")
        if cprofile and "cprofile" in s:
            print(f"\n{name}: the gateway's event-loop thread, by own time")
            print_profile(s["cprofile"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=18580)
    parser.add_argument("--sequential", type=int, default=25, help="conversations (4 messages each), one at a time")
    parser.add_argument("--concurrency", type=lambda s: [int(x) for x in s.split(",") if x], default=[20, 50])
    parser.add_argument("--rounds", type=int, default=2, help="conversations per concurrent slot")
    parser.add_argument("--cprofile", action="store_true", help="profile the gateway's event-loop thread")
    parser.add_argument(
        "--sqlite-synchronous", choices=["OFF", "NORMAL", "FULL"], help="what-if: force this on every connection"
    )
    parser.add_argument(
        "--ws-deflate", choices=["on", "off"], default="off", help="WebSocket per-message deflate (the gateway: off)"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "reports" / "profile_gateway.json")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    parser.add_argument("--stats-dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args)
        return 0
    os.makedirs(ROOT / "var", exist_ok=True)
    return asyncio.run(drive(args))


if __name__ == "__main__":
    sys.exit(main())
