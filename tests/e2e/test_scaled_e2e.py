"""RASA_SERVERS=2 on PostgreSQL and Redis: conversations spread over two Rasa
servers, and killing the one serving a conversation mid-form loses nothing.

Uses the machine's PostgreSQL (a scratch schema of its own, dropped after) and
Redis (E2E_REDIS_URL, default redis://127.0.0.1:6379/12; Rasa's locks go to
the next database).
"""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bot.rasa_pool import server_order
from bot.supervisor import Stack
from tests.e2e.test_widget_conversations import conversation_for
from tests.fakes.stack import running_stack
from tests.fakes.widget import WidgetCustomer

POSTGRES = os.environ.get("TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS = os.environ.get("E2E_REDIS_URL", "redis://127.0.0.1:6379/12")


@pytest.fixture(scope="module")
def scaled_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    schema = f"e2e_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(POSTGRES).update_query_dict({"options": f"-csearch_path={schema}"})
    database_url = url.render_as_string(hide_password=False)
    env = dict(os.environ)
    env.update(
        RASA_SERVERS="2",
        DATABASE_URL=database_url,
        TRACKER_STORE_URL=database_url,
        REDIS_URL=REDIS,
        RASA_TOKEN="e2e-rasa-token-0123456789abcdef",
        WIDGET_IDENTITY_SECRET="e2e-widget-secret-0123456789abcdef",
        STAFF_SESSION_SECRET="e2e-staff-session-secret-0123456789",
        DEMO_MODE="true",
        LOG_LEVEL="INFO",
        STACK_WORK_DIR=str(tmp_path_factory.mktemp("scaled")),
    )
    try:
        yield env
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="module")
def scaled_stack(scaled_env: dict[str, str]) -> Iterator[Stack]:
    from crm.db import session_scope
    from crm.demo import seed_demo
    from crm.migrate import upgrade

    upgrade(scaled_env["DATABASE_URL"])
    with session_scope(scaled_env["DATABASE_URL"]) as session:
        seed_demo(session)
    with running_stack(scaled_env, healthy_within=300, what="the scaled stack") as started:
        yield started


def _user_texts(database_url: str, sender: str) -> list[str]:
    import json

    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT data FROM events WHERE sender_id = :s AND type_name = 'user' ORDER BY id"), {"s": sender}
            )
            return [json.loads(data)["text"] for (data,) in rows]
    finally:
        engine.dispose()


@pytest.mark.asyncio(loop_scope="function")
async def test_a_killed_rasa_server_loses_no_conversation(scaled_stack: Stack, scaled_env: dict[str, str]) -> None:
    stack = scaled_stack
    assert {"rasa", "rasa-2", "actions", "actions-2"} <= set(stack.processes)
    crm_url = scaled_env["DATABASE_URL"]
    client = await WidgetCustomer.connect(stack.gateway_port)
    try:
        first = await client.say("where is my order?")
        assert "order number" in first.text.lower()
        sender = str(conversation_for(crm_url, client).id)
        # The server this conversation lives on, by the gateway's own rule: kill it mid-form.
        serving = ["rasa", "rasa-2"][server_order(sender, 2)[0]]
        os.killpg(stack.processes[serving].pid, signal.SIGKILL)
        # The stack's processes belong to its own event loop: watch, don't await.
        for _ in range(300):
            if stack.processes[serving].returncode is not None:
                break
            await asyncio.sleep(0.1)
        assert stack.processes[serving].returncode is not None, f"{serving} did not die"

        second = await client.say("it's #1043")
        assert "mail" in second.text.lower(), second.text  # the other server knows the form is waiting for it
        third = await client.say("amelia.hughes@example.com")
        assert "1043" in third.text and "shipped" in third.text.lower(), third.text
        assert not any(m.get("from") == "system" for m in [*second.messages, *third.messages])
    finally:
        await client.close()
    # Every message is in the shared tracker store once, in order.
    assert _user_texts(crm_url, sender) == ["where is my order?", "it's #1043", "amelia.hughes@example.com"]

    # New conversations keep being answered with one server left.
    other = await WidgetCustomer.connect(stack.gateway_port)
    try:
        turn = await other.say("what delivery options do you have")
        assert turn.messages and all(m.get("from") == "bot" for m in turn.messages), turn.text
    finally:
        await other.close()
