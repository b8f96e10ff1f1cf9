"""Trust boundaries on the real stack: the action server answers only Rasa,
and no secret is visible on a process's command line."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from bot.supervisor import Stack

SECRETS = ("RASA_TOKEN", "ACTION_SERVER_TOKEN", "WIDGET_IDENTITY_SECRET", "STAFF_SESSION_SECRET", "TELEGRAM_WEBHOOK_SECRET")


def test_no_secret_is_on_a_command_line_ps_would_show(stack: Stack) -> None:
    env = stack.child_env()
    secrets = [env[name] for name in SECRETS if env.get(name)]
    assert len(secrets) == len(SECRETS)
    for name, proc in stack.processes.items():
        cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes().decode(errors="replace")
        assert not any(secret in cmdline for secret in secrets), name


def test_the_real_action_server_refuses_a_forged_call(stack: Stack) -> None:
    call = {
        "next_action": "action_order_history",
        "sender_id": "forged",
        "tracker": {"sender_id": "forged", "slots": {"customer_id": "C002", "verified": True}, "events": []},
        "domain": {},
    }
    url = f"http://127.0.0.1:{stack.action_port}/webhook"
    plain = httpx.post(url, content=json.dumps(call), headers={"Content-Type": "text/plain"})
    assert plain.status_code == 401 and "C002" not in plain.text
    wrong = httpx.post(url, json=call, headers={"Authorization": "Bearer not-the-token-0123456789"})
    assert wrong.status_code == 401
    # What the gateway's health check needs stays open.
    assert httpx.get(f"http://127.0.0.1:{stack.action_port}/health").status_code == 200
