"""Where one turn of the assistant goes, by component.

    .venv-rasa/bin/python scripts/profile_turn.py [--model models/assistant.tar.gz] [--long 200]
                                                  [--channel] [--new-session-per-call]

Loads the trained model in this process (Rasa's own Agent, the project's
tracker store on a scratch SQLite file), starts the real action server on a
seeded scratch CRM, and times every turn of a short (5 messages) and a long
(`--long`, default 200 messages) conversation, split into: NLU parse, tracker
load, tracker save, each policy's prediction, each custom action call (HTTP
round trip to the action server, CRM queries included) and the rest of Rasa's
bookkeeping. Prints a table and writes var/reports/profile_turn.json, and the
short conversation's action calls to var/reports/action_calls.json (what
scripts/profile_actions.py replays).

`--channel` sends each message through the gateway channel's webhook handler
(rasa_ext/channel.py, as the gateway does) instead of `Agent.handle_message`,
so what the channel adds (the parse header) is timed too. Rasa runs with the
patches `rasa_ext.serve` installs (`install_patches`): one kept HTTP session for
the action calls, the action answers checked with a validator built once, the
graph without dask, RulePolicy's indexed matching; `--new-session-per-call`
profiles Rasa's own HTTP session behaviour.

The gateway's own share is not here: `make bench` measures it as the
difference between the widget and Rasa's webhook.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import defaultdict
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TEXTS = ["hi", "what delivery options do you have", "which payment methods do you accept", "where is my order", "thanks"]
CUSTOMER = "C001"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Clock:
    """Per-turn seconds by component; wrappers add to the current turn."""

    def __init__(self) -> None:
        self.turn: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    def add(self, key: str, seconds: float) -> None:
        self.turn[key] += seconds
        self.calls[key] += 1

    def wrap_async(self, owner: Any, name: str, key: Callable[..., str]) -> None:
        original = getattr(owner, name)
        clock = self

        async def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return await original(*args, **kwargs)
            finally:
                clock.add(key(*args, **kwargs), time.perf_counter() - started)

        setattr(owner, name, timed)

    def wrap_sync(self, owner: Any, name: str, key: Callable[..., str]) -> None:
        original = getattr(owner, name)
        clock = self

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                clock.add(key(*args, **kwargs), time.perf_counter() - started)

        setattr(owner, name, timed)


def capture_action_calls(into: list[dict[str, Any]]) -> None:
    """Keep the body of every action call Rasa makes (for scripts/profile_actions.py to replay)."""
    from rasa.utils.endpoints import EndpointConfig

    original = EndpointConfig.request

    async def request(self: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(kwargs.get("json"), dict) and "next_action" in kwargs["json"]:
            into.append(json.loads(json.dumps(kwargs["json"])))
        return await original(self, *args, **kwargs)

    EndpointConfig.request = request


def instrument_agent(agent: Any, clock: Clock) -> None:
    store = agent.processor.tracker_store
    clock.wrap_async(store, "retrieve", lambda *a, **k: "tracker load")
    clock.wrap_async(store, "save", lambda *a, **k: "tracker save")
    clock.wrap_async(agent.processor, "parse_message", lambda *a, **k: "nlu parse")


def instrument_classes(clock: Clock) -> None:
    """Before the model loads: Rasa's graph nodes bind their component's method at load time."""
    import rasa.core.policies.memoization  # noqa: F401
    import rasa.core.policies.rule_policy  # noqa: F401
    import rasa.core.policies.ted_policy  # noqa: F401
    from rasa.core.actions.action import RemoteAction
    from rasa.core.policies.policy import Policy

    clock.wrap_async(RemoteAction, "run", lambda self, *a, **k: f"action {self.name()}")
    # Every policy class the model uses, whatever it is; a policy calling its
    # parent class's prediction (RulePolicy -> MemoizationPolicy) counts once.
    active: set[int] = set()
    for cls in _subclasses(Policy):
        if "predict_action_probabilities" not in cls.__dict__:
            continue
        original = cls.__dict__["predict_action_probabilities"]

        def timed(self: Any, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            if id(self) in active:
                return _original(self, *args, **kwargs)
            active.add(id(self))
            started = time.perf_counter()
            try:
                return _original(self, *args, **kwargs)
            finally:
                active.discard(id(self))
                clock.add(f"policy {type(self).__name__}", time.perf_counter() - started)

        cls.predict_action_probabilities = timed


def _subclasses(cls: type) -> list[type]:
    out = []
    for sub in cls.__subclasses__():
        out.append(sub)
        out.extend(_subclasses(sub))
    return out


def start_action_server(work: Path) -> tuple[subprocess.Popen, dict[str, str]]:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{work / 'crm.db'}",
        "TRACKER_STORE_URL": f"sqlite:///{work / 'rasa.db'}",
        "ACTION_ENDPOINT_URL": f"http://127.0.0.1:{port}/webhook",
        "ACTION_SERVER_TOKEN": "profile-action-token-0123456789abcdefghij",
        "ACTION_PORT": str(port),
        "LOG_LEVEL": "WARNING",
    }
    app_py = str(ROOT / ".venv" / "bin" / "python")
    subprocess.run([app_py, "-m", "crm", "migrate"], cwd=ROOT, env=env, check=True, capture_output=True)
    subprocess.run([app_py, "-m", "crm", "seed-demo"], cwd=ROOT, env=env, check=True, capture_output=True)
    proc = subprocess.Popen([app_py, "-m", "actions.server"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(240):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
            return proc, env
        except OSError:
            time.sleep(0.25)
    proc.kill()
    raise RuntimeError("the action server did not start")


def channel_webhook(agent: Any) -> Callable[[str, str, dict[str, Any]], Any]:
    """The gateway channel's POST /webhook handler on this agent, called as Sanic would."""
    from types import SimpleNamespace

    from rasa_ext.channel import GatewayInput

    token = "profile-channel-token-0123456789"
    blueprint = GatewayInput(token).blueprint(agent.handle_message)
    handler = next(r.handler for r in blueprint._future_routes if r.uri == "/webhook")
    app = SimpleNamespace(ctx=SimpleNamespace(agent=agent))

    async def send(sender: str, text: str, metadata: dict[str, Any]) -> Any:
        request = SimpleNamespace(
            headers={"Authorization": "Bearer " + token},
            json={"sender": sender, "message": text, "metadata": metadata},
            app=app,
        )
        answer = await handler(request)
        assert answer.status == 200, answer.body
        return answer

    return send


async def conversation(
    agent: Any, clock: Clock, sender: str, turns: int, webhook: Callable[..., Any] | None = None
) -> list[dict[str, float]]:
    from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

    per_turn = []
    for i in range(turns):
        clock.turn = defaultdict(float)
        metadata = {"channel": "web", "customer_id": CUSTOMER, "locale": "en"}
        message = UserMessage(
            TEXTS[i % len(TEXTS)],
            CollectingOutputChannel(),
            sender,
            input_channel="gateway",
            metadata=metadata,
        )
        started = time.perf_counter()
        if webhook is not None:
            await webhook(sender, TEXTS[i % len(TEXTS)], metadata)
        else:
            await agent.handle_message(message)
        total = time.perf_counter() - started
        known = sum(clock.turn.values())
        row = {k: v * 1000 for k, v in clock.turn.items()}
        row["rest of Rasa"] = max(0.0, total - known) * 1000
        row["total"] = total * 1000
        per_turn.append(row)
    return per_turn


def mean_rows(rows: list[dict[str, float]]) -> dict[str, float]:
    keys = sorted({k for r in rows for k in r})
    return {k: round(statistics.fmean(r.get(k, 0.0) for r in rows), 2) for k in keys}


async def profile(
    model: Path, long_turns: int, compact_after: int | None, *, channel: bool = False, kept_session: bool = True
) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="juniper-profile-"))
    proc, env = start_action_server(work)
    os.environ.update({k: env[k] for k in ("ACTION_ENDPOINT_URL", "ACTION_SERVER_TOKEN", "TRACKER_STORE_URL")})
    try:
        from rasa.core.agent import load_agent
        from rasa.core.utils import AvailableEndpoints

        from rasa_ext import http_session
        from rasa_ext.serve import install_patches

        # The Rasa the server runs (rasa_ext.serve): the same patches.
        install_patches()
        if not kept_session:
            http_session.uninstall()
        calls: list[dict[str, Any]] = []
        capture_action_calls(calls)
        endpoints = AvailableEndpoints.read_endpoints(str(ROOT / "endpoints.yml"))
        clock = Clock()
        instrument_classes(clock)
        started = time.perf_counter()
        agent = await load_agent(model_path=str(model), endpoints=endpoints)
        load_seconds = time.perf_counter() - started
        # Rasa wraps the configured store in a FailSafeTrackerStore.
        store = getattr(agent.processor.tracker_store, "_tracker_store", agent.processor.tracker_store)
        if compact_after is not None:
            store.compact_after = compact_after
        instrument_agent(agent, clock)
        webhook = channel_webhook(agent) if channel else None
        await conversation(agent, clock, "warm-up", len(TEXTS), webhook)  # lazy loading, first predictions
        calls.clear()
        clock.calls.clear()
        short = await conversation(agent, clock, "short", len(TEXTS), webhook)
        action_calls = list(calls)
        loads_per_turn = clock.calls["tracker load"] / len(TEXTS)
        long = await conversation(agent, clock, "long", long_turns, webhook)
        await http_session.close_all()
    finally:
        proc.terminate()
        proc.wait(30)
    (ROOT / "var" / "reports").mkdir(parents=True, exist_ok=True)
    (ROOT / "var" / "reports" / "action_calls.json").write_text(json.dumps(action_calls))
    n = len(TEXTS)
    # Same texts in the same dialogue state: the long conversation's second
    # cycle (the first also starts the session and may ask for feedback) and its last.
    first, last = mean_rows(long[n : 2 * n]), mean_rows(long[-n:])
    return {
        "model": str(model),
        "compact_after": store.compact_after,
        "through_channel": channel,
        "kept_http_session": kept_session,
        "model_load_s": round(load_seconds, 1),
        "short_conversation_ms": mean_rows(short),
        "long_second_cycle_ms": first,
        "long_last_cycle_ms": last,
        "turn_5_ms": round(long[n - 1]["total"], 1),
        f"turn_{long_turns}_ms": round(long[-1]["total"], 1),
        "last_over_second_cycle": round(last["total"] / first["total"], 2),
        "long_turns_ms": [round(r["total"], 1) for r in long],
        "short_action_calls": [c["next_action"] for c in action_calls],
        "short_tracker_loads_per_turn": loads_per_turn,
    }


def print_table(report: dict[str, Any]) -> None:
    cols = ["short_conversation_ms", "long_second_cycle_ms", "long_last_cycle_ms"]
    keys = sorted({k for c in cols for k in report[c]}, key=lambda k: (k == "total", k))
    print(f"{'component (ms per turn, mean)':42} {'short':>8} {'long 6-10':>9} {'long last 5':>12}")
    for k in keys:
        print(f"{k:42} " + " ".join(f"{report[c].get(k, 0.0):>{w}.1f}" for c, w in zip(cols, (8, 9, 12))))
    print(f"last cycle over second cycle: {report['last_over_second_cycle']}x; model load {report['model_load_s']} s")
    print(f"tracker loads per turn (short conversation): {report['short_tracker_loads_per_turn']}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "assistant.tar.gz")
    parser.add_argument("--long", type=int, default=200, help="messages in the long conversation")
    parser.add_argument("--compact-after", type=int, help="tracker store: snapshot sessions longer than this (0 = never)")
    parser.add_argument("--channel", action="store_true", help="through the gateway channel's webhook handler")
    parser.add_argument(
        "--new-session-per-call", action="store_true", help="Rasa's own action calls (no kept HTTP session)"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "reports" / "profile_turn.json")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")
    # Debug logging of every dialogue state would dominate the profile.
    logging.disable(logging.INFO)
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)
    compact = None if args.compact_after is None else (args.compact_after or 10**9)
    report = asyncio.run(
        profile(args.model, args.long, compact, channel=args.channel, kept_session=not args.new_session_per_call)
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print_table(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
