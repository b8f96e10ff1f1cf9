"""Soak: 30 conversations over the widget, SMS and Telegram on the real, supervised stack
while faults are injected; every customer message must end answered or apologised.

    make soak                                    (5 minutes; SOAK_SECONDS=60 for the short one)
    .venv/bin/python scripts/soak.py --seconds 60

Faults (spread over the run): kill -9 of Rasa, of the action server and of its
worker process, Rasa paused (SIGSTOP … SIGCONT), the CRM database locked for 5 s
and for 35 s, and a SIGTERM of the whole stack followed by a restart. Runs shorter
than 4 minutes leave out the faults that need Rasa to reload its model (kill -9
of Rasa, the whole-stack restart) and the 35 s lock, and kill -9 the gateway instead.

Prints a table and writes var/reports/soak.json (sent, acknowledged, answered,
apologised, duplicated, lost, faults). Exits 1 on any lost or duplicated message.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from bot.supervision import HealPolicy, Supervisor  # noqa: E402
from bot.supervisor import Stack, free_port  # noqa: E402
from soak_customers import (  # noqa: E402
    TELEGRAM_SECRET,
    Customer,
    SmsCustomer,
    TelegramCustomer,
    WidgetCustomer,
)
from tests.fakes.telegram import FakeTelegram, serve_in_thread  # noqa: E402
from tests.fakes.twilio import FakeTwilioApi  # noqa: E402

PHRASES = [
    "hi",
    "what delivery options do you have",
    "which payment methods do you accept",
    "what is your return policy",
    "can you recommend something",
    "thanks",
]
HEAL = HealPolicy(check_interval=1.0, unhealthy_after=20.0, backoff_max=10.0)


class Soak:
    def __init__(self, stack: Stack, crm_db: Path) -> None:
        self.stack = stack
        self.crm_db = crm_db
        self.faults: list[dict[str, Any]] = []
        self._stop = asyncio.Event()
        self._supervising: asyncio.Task[None] | None = None
        self.began = time.monotonic()

    def supervise(self) -> None:
        self._stop = asyncio.Event()
        self._supervising = asyncio.create_task(Supervisor(self.stack, HEAL).run(self._stop))

    async def unsupervise(self) -> None:
        self._stop.set()
        if self._supervising is not None:
            await self._supervising

    def _log(self, name: str, **detail: Any) -> None:
        at = round(time.monotonic() - self.began, 1)
        self.faults.append({"fault": name, "at_s": at, **detail})
        print(f"  [{at:6.1f}s] fault: {name} {detail or ''}", flush=True)

    def _pid(self, name: str) -> int:
        return self.stack.processes[name].pid

    async def kill9(self, name: str) -> None:
        self._log(f"kill -9 {name}", pid=self._pid(name))
        os.kill(self._pid(name), signal.SIGKILL)

    async def kill_worker(self, name: str = "actions") -> None:
        leader = self._pid(name)
        workers = [pid for pid in _group(leader) if pid != leader]
        self._log(f"kill -9 {name} worker", pids=workers)
        for pid in workers:
            os.kill(pid, signal.SIGKILL)

    async def pause(self, name: str, seconds: float) -> None:
        self._log(f"SIGSTOP {name} for {seconds:.0f}s (slow)")
        self.stack.signal_group(name, signal.SIGSTOP)
        await asyncio.sleep(seconds)
        self.stack.signal_group(name, signal.SIGCONT)

    async def lock_db(self, seconds: float) -> None:
        self._log(f"CRM database locked for {seconds:.0f}s")
        conn = sqlite3.connect(self.crm_db, timeout=30, isolation_level=None, check_same_thread=False)
        conn.execute("BEGIN EXCLUSIVE")
        try:
            await asyncio.sleep(seconds)
        finally:
            conn.execute("ROLLBACK")
            conn.close()

    async def restart_stack(self) -> None:
        self._log("SIGTERM whole stack, then restart")
        await self.unsupervise()
        await self.stack.stop()
        self.stack.stopping = False
        self.stack.processes.clear()
        await self.stack.start()
        await self.stack.wait_healthy(300)
        self.supervise()

    async def run_faults(self, seconds: float) -> None:
        full = seconds >= 240
        plan: list[tuple[float, Any]] = [
            (0.08, lambda: self.kill9("actions")),
            (0.22, lambda: self.kill_worker("actions")),
            (0.36, lambda: self.lock_db(5)),
            (0.50, lambda: self.pause("rasa", 12 if full else 8)),
        ]
        if full:
            plan += [
                (0.60, lambda: self.kill9("rasa")),
                (0.72, lambda: self.lock_db(35)),
                (0.85, self.restart_stack),
            ]
        else:
            plan += [(0.68, lambda: self.kill9("gateway"))]
        for fraction, fault in plan:
            delay = self.began + fraction * seconds - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            try:
                await fault()
            except Exception as exc:  # a fault that could not be injected is reported, not hidden
                self._log("fault failed", error=repr(exc))


def _group(pgid: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                pids.append(int(entry.name))
    return pids


async def processed_twice(stack: Stack, token: str, crm_url: str) -> int:
    """Messages Rasa took in more than once (a rewound turn does not count)."""
    from sqlalchemy import select

    from crm.db import session_scope
    from crm.models import Conversation

    with session_scope(crm_url) as session:
        ids = list(session.scalars(select(Conversation.id)))
    twice = 0
    async with httpx.AsyncClient(timeout=30) as http:
        for conversation_id in ids:
            response = await http.get(
                f"{stack.rasa_url}/conversations/{conversation_id}/tracker",
                params={"token": token, "include_events": "ALL"},
            )
            in_force: list[str | None] = []
            for event in response.json().get("events", []):
                if event.get("event") == "user":
                    in_force.append(event.get("message_id"))
                elif event.get("event") == "rewind" and in_force:
                    in_force.pop()
            counts = Counter(m for m in in_force if m)
            twice += sum(1 for n in counts.values() if n > 1)
    return twice


def open_turns(crm_url: str) -> int:
    from sqlalchemy import func, select

    from crm.db import session_scope
    from crm.models import Message, TurnState

    with session_scope(crm_url) as session:
        return session.scalar(
            select(func.count())
            .select_from(Message)
            .where(Message.turn_state.in_([TurnState.received, TurnState.processing]))
        ) or 0


def tally(customers: list[Customer], twice: int, still_open: int) -> dict[str, Any]:
    sent = [s for c in customers for s in c.ledger]
    acked = [s for s in sent if s.acknowledged]
    by_channel: dict[str, dict[str, int]] = {}
    totals = Counter()
    for s in sent:
        row = by_channel.setdefault(s.channel, Counter())
        outcome = {
            "sent": 1,
            "acknowledged": int(s.acknowledged),
            "answered": int(s.acknowledged and s.answered),
            "apologised": int(s.acknowledged and not s.answered and s.apologies > 0),
            "duplicated": int(s.apologies > 1),
            "lost": int(s.acknowledged and not s.replies),
        }
        row.update(outcome)
        totals.update(outcome)
    totals["duplicated"] += twice
    return {
        **{k: totals[k] for k in ("sent", "acknowledged", "answered", "apologised", "duplicated", "lost")},
        "not_acknowledged_gave_up": len(sent) - len(acked),
        "turns_left_open_in_db": still_open,
        "rasa_processed_twice": twice,
        "by_channel": {k: dict(v) for k, v in by_channel.items()},
    }


def print_table(report: dict[str, Any]) -> None:
    cols = ("sent", "acknowledged", "answered", "apologised", "duplicated", "lost")
    print("\n  channel   " + "".join(f"{c:>13}" for c in cols))
    for channel, row in sorted(report["by_channel"].items()):
        print(f"  {channel:<9} " + "".join(f"{row.get(c, 0):>13}" for c in cols))
    print("  total     " + "".join(f"{report[c]:>13}" for c in cols))
    print(f"\n  faults injected: {len(report['faults'])}; Rasa took a message twice: "
          f"{report['rasa_processed_twice']}; turns left open: {report['turns_left_open_in_db']}\n")


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=float(os.environ.get("SOAK_SECONDS", 300)))
    parser.add_argument("--conversations", type=int, default=30)
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "reports" / "soak.json")
    args = parser.parse_args()

    from crm.db import session_scope
    from crm.demo import seed_demo
    from crm.migrate import upgrade

    work = Path(tempfile.mkdtemp(prefix="juniper-soak-"))
    crm_db = work / "crm.db"
    twilio_cm = FakeTwilioApi().serve()
    twilio = twilio_cm.__enter__()
    telegram = FakeTelegram()
    telegram_cm = serve_in_thread(telegram)
    telegram_cm.__enter__()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{crm_db}",
        "TRACKER_STORE_URL": f"sqlite:///{work / 'rasa.db'}",
        "RASA_TOKEN": "soak-token-0123456789abcdef",
        "WIDGET_IDENTITY_SECRET": "soak-widget-secret-0123456789",
        "LOG_LEVEL": "WARNING",
        "TELEGRAM_BOT_TOKEN": telegram.token,
        "TELEGRAM_API_BASE_URL": telegram.base_url,
        "TELEGRAM_MODE": "webhook",
        "TELEGRAM_WEBHOOK_SECRET": TELEGRAM_SECRET,
        **twilio.gateway_env(),
        **{k: "1000000" for k in ("RATE_LIMIT_IP_PER_MINUTE", "RATE_LIMIT_IP_BURST",
                                  "RATE_LIMIT_CONNECT_PER_MINUTE", "RATE_LIMIT_CONNECT_BURST")},
    }
    env.pop("REDIS_URL", None)
    upgrade(env["DATABASE_URL"])
    with session_scope(env["DATABASE_URL"]) as session:
        seed_demo(session)

    stack = Stack(env=env, rasa_port=free_port(), action_port=free_port(), gateway_port=free_port(),
                  quiet=True, log_dir=work / "logs")
    print(f"soak: {args.seconds:.0f}s, {args.conversations} conversations; logs in {work / 'logs'}", flush=True)
    await stack.start()
    try:
        await stack.wait_healthy(300)
        soak = Soak(stack, crm_db)
        soak.supervise()
        customers: list[Customer] = []
        for n in range(args.conversations):
            if n % 3 == 0:
                customers.append(WidgetCustomer(stack.gateway_url))
            elif n % 3 == 1:
                customers.append(SmsCustomer(stack.gateway_url, twilio, f"+4477009{n:05d}"))
            else:
                customers.append(TelegramCustomer(stack.gateway_url, telegram, 770_000_000 + n))
        until = soak.began + args.seconds
        faults = asyncio.create_task(soak.run_faults(args.seconds))
        await asyncio.gather(*(c.converse(PHRASES[n % 2 :], until) for n, c in enumerate(customers)))
        await faults
        for customer in customers:
            if isinstance(customer, WidgetCustomer):
                await customer.close()
        twice = await processed_twice(stack, env["RASA_TOKEN"], env["DATABASE_URL"])
        report = {
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "seconds": args.seconds,
            "conversations": args.conversations,
            **tally(customers, twice, open_turns(env["DATABASE_URL"])),
            "faults": soak.faults,
        }
        await soak.unsupervise()
    finally:
        await stack.stop()
        telegram_cm.__exit__(None, None, None)
        twilio_cm.__exit__(None, None, None)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print_table(report)
    print(f"  report: {args.out}")
    return 1 if report["lost"] or report["duplicated"] or report["turns_left_open_in_db"] else 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
