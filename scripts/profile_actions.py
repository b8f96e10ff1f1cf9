"""What one custom action call costs in the action server, and how many CRM queries it makes (a measurement).

    .venv/bin/python scripts/profile_actions.py [--calls var/reports/action_calls.json] [--repeat 30] [--port 18590]

Replays the action calls scripts/profile_turn.py captured (the bodies Rasa sent
for its short conversation) against a scratch CRM (migrated, demo data
seeded), three ways, median of `--repeat` each:

- in process: rasa-sdk's `ActionExecutor.run`, counting the SQL statements and
  commits of each action (SQLAlchemy engine events);
- over HTTP to the real action server (`python -m actions.server` on `--port`),
  with one kept aiohttp session (what Rasa does with rasa_ext/http_session.py);
- over HTTP with a new session per call (what Rasa 3.6 does on its own).

The difference between the HTTP rows and the in-process row is the per-call
overhead (connection, Sanic, the token check, JSON both ways).
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
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TOKEN = "profile-action-token-0123456789abcdefghij"


def _median_ms(values: list[float]) -> float:
    return round(1000 * statistics.median(values), 2)


async def in_process(calls: list[dict[str, Any]], repeat: int) -> dict[str, dict[str, float]]:
    from sqlalchemy import event
    from sqlalchemy.engine import Engine
    from rasa_sdk.executor import ActionExecutor

    counts: dict[str, int] = defaultdict(int)

    @event.listens_for(Engine, "before_cursor_execute")
    def _statement(*_: Any) -> None:
        counts["statements"] += 1

    @event.listens_for(Engine, "commit")
    def _commit(*_: Any) -> None:
        counts["commits"] += 1

    executor = ActionExecutor()
    executor.register_package("actions")
    rows: dict[str, dict[str, float]] = {}
    for index, call in enumerate(calls):
        name = f"{index + 1}. {call['next_action']}"
        await executor.run(json.loads(json.dumps(call)))  # warm: imports, caches, the first connection
        counts.clear()
        times = []
        for _ in range(repeat):
            body = json.loads(json.dumps(call))
            started = time.perf_counter()
            await executor.run(body)
            times.append(time.perf_counter() - started)
        rows[name] = {
            "in_process_ms": _median_ms(times),
            "statements": round(counts["statements"] / repeat, 1),
            "commits": round(counts["commits"] / repeat, 1),
            "body_kb": round(len(json.dumps(call)) / 1024, 1),
        }
    return rows


async def over_http(calls: list[dict[str, Any]], repeat: int, port: int) -> list[tuple[float, float]]:
    """(kept session, new session per call) medians per call, the two alternating so load hits both alike."""
    import aiohttp

    url = f"http://127.0.0.1:{port}/webhook"
    headers = {"Authorization": f"Bearer {TOKEN}"}

    async def post(session: aiohttp.ClientSession, call: dict[str, Any]) -> float:
        started = time.perf_counter()
        async with session.post(url, json=call) as response:
            assert response.status == 200, await response.text()
            await response.json()
        return time.perf_counter() - started

    medians = []
    kept_session = aiohttp.ClientSession(headers=headers)
    try:
        for call in calls:
            await post(kept_session, call)  # warm
            kept, fresh = [], []
            for _ in range(repeat):
                kept.append(await post(kept_session, call))
                async with aiohttp.ClientSession(headers=headers) as new_session:
                    fresh.append(await post(new_session, call))
            medians.append((_median_ms(kept), _median_ms(fresh)))
    finally:
        await kept_session.close()
    return medians


def start_server(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    import urllib.request

    proc = subprocess.Popen(
        [sys.executable, "-m", "actions.server"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    for _ in range(240):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
            return proc
        except OSError:
            time.sleep(0.25)
    proc.kill()
    raise SystemExit("the action server did not start")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=Path, default=ROOT / "var" / "reports" / "action_calls.json")
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--port", type=int, default=18590)
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "reports" / "profile_actions.json")
    args = parser.parse_args()
    calls = json.loads(args.calls.read_text())
    work = Path(tempfile.mkdtemp(prefix="profile-actions-"))
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{work / 'crm.db'}",
        "ACTION_SERVER_TOKEN": TOKEN,
        "ACTION_PORT": str(args.port),
        "LOG_LEVEL": "WARNING",
    }
    os.environ.update({k: env[k] for k in ("DATABASE_URL", "ACTION_SERVER_TOKEN", "ACTION_PORT")})
    from crm.db import session_scope
    from crm.demo import seed_demo
    from crm.migrate import upgrade

    upgrade(env["DATABASE_URL"])
    with session_scope(env["DATABASE_URL"]) as session:
        seed_demo(session)
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    rows = asyncio.run(in_process(calls, args.repeat))
    proc = start_server(env, args.port)
    try:
        http = asyncio.run(over_http(calls, args.repeat, args.port))
    finally:
        proc.terminate()
        proc.wait(30)
    for row, (k, f) in zip(rows.values(), http):
        row["http_kept_session_ms"] = k
        row["http_new_session_ms"] = f
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load {load}, median of {args.repeat}")
    print(f"{'action call':34}{'body KB':>8}{'SQL':>6}{'commits':>8}{'in process':>11}{'HTTP kept':>10}{'HTTP new':>9}")
    for name, r in rows.items():
        print(
            f"{name:34}{r['body_kb']:>8}{r['statements']:>6}{r['commits']:>8}{r['in_process_ms']:>11}"
            f"{r['http_kept_session_ms']:>10}{r['http_new_session_ms']:>9}"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"load": load, "repeat": args.repeat, "calls": rows}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
