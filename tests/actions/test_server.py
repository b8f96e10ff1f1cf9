"""The action server answers only Rasa: a forged call changes nothing.

The real server (`python -m actions.server`) runs in a subprocess on a free
loopback port, on a CRM of its own. Each forged call tries what the security
review did: change customer C002's delivery address through
`action_save_address`, with the customer id it chose in the tracker.
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from crm.db import session_scope
from crm.migrate import upgrade
from crm.models import Order, OrderStatus, ShopRequest, ShopRequestKind
from tests.actions.tracker_support import load_domain
from tests.factories import make_customer, make_order
from tests.fakes.gateway import free_port

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "action-server-test-token-0123456789abcdefghij"
OLD_ADDRESS = "1 Old Road, Leeds LS1 1AA"
NEW_ADDRESS = "12 Mill Lane, Bristol BS1 4AB"


class ActionServer:
    def __init__(self, url: str, port: int, database_url: str) -> None:
        self.url, self.port, self.database_url = url, port, database_url

    def address_of(self, number: str) -> str | None:
        with session_scope(self.database_url) as session:
            return session.scalars(select(Order.shipping_address).where(Order.number == number)).one()

    def requested_addresses(self, number: str) -> list[str]:
        """New addresses asked of the shop for this order (the chat asks; the shop changes it)."""
        with session_scope(self.database_url) as session:
            requests = session.scalars(
                select(ShopRequest).join(Order).where(Order.number == number, ShopRequest.kind == ShopRequestKind.change_address)
            )
            return [str(r.detail.get("address") or r.detail.get("new_address")) for r in requests]

    def host(self) -> str:
        return f"127.0.0.1:{self.port}"


@pytest.fixture(scope="module")
def action_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ActionServer]:
    work = tmp_path_factory.mktemp("actions")
    database_url = f"sqlite:///{work / 'crm.db'}"
    upgrade(database_url)
    with session_scope(database_url) as session:
        customer = make_customer(session, external_id="C002", first_name="Cleo", email="cleo@example.com")
        for number in ("81502", "81503"):
            make_order(session, customer=customer, number=number, status=OrderStatus.paid, shipping_address=OLD_ADDRESS)
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "ACTION_SERVER_TOKEN": TOKEN, "ACTION_PORT": str(port)}
    env.pop("ENVIRONMENT", None)
    log = (work / "server.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "actions.server"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, (work / "server.log").read_text()
            try:
                if httpx.get(url + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the action server did not start"
            time.sleep(0.2)
        yield ActionServer(url, port, database_url)
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


def save_address_call(number: str) -> dict[str, Any]:
    """What Rasa would send to run action_save_address for C002 (as the attacker wrote it)."""
    latest = {"text": "yes", "intent": {"name": "affirm", "confidence": 1.0}, "entities": []}
    return {
        "next_action": "action_save_address",
        "sender_id": "forged",
        "version": "3.6.21",
        "domain": load_domain(),
        "tracker": {
            "sender_id": "forged",
            "slots": {
                "customer_id": "C002",
                "verified": True,
                "awaiting": "new_address",
                "order_in_question": number,
                "new_address": NEW_ADDRESS,
            },
            "latest_message": latest,
            "events": [{"event": "user", "text": "yes", "parse_data": latest, "metadata": {"customer_id": "C002"}}],
            "active_loop": {},
            "latest_action_name": "action_listen",
        },
    }


@dataclass
class Answer:
    status_code: int
    text: str

    def json(self) -> Any:
        return json.loads(self.text)


def post(server: ActionServer, body: bytes, headers: dict[str, str]) -> Answer:
    # http.client, because httpx fills in Host and refuses non-ASCII header values.
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=20)
    try:
        conn.putrequest("POST", "/webhook", skip_host=True, skip_accept_encoding=True)
        for key, value in headers.items():
            conn.putheader(key, value.encode())
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        answer = conn.getresponse()
        return Answer(answer.status, answer.read().decode())
    finally:
        conn.close()


FORGERIES = {
    "no token": ({"Content-Type": "application/json"}, 401),
    "wrong token": ({"Content-Type": "application/json", "Authorization": "Bearer " + "x" * len(TOKEN)}, 401),
    "not bearer": ({"Content-Type": "application/json", "Authorization": "Basic " + TOKEN}, 401),
    "non-ASCII token": ({"Content-Type": "application/json", "Authorization": "Bearer jeton-é-ü-" + TOKEN}, 401),
    # A web page can POST text/plain to any address without asking first (a "simple" request).
    "browser text/plain": ({"Content-Type": "text/plain", "Authorization": "Bearer " + TOKEN}, 415),
    "form post": ({"Content-Type": "application/x-www-form-urlencoded"}, 401),
}


@pytest.mark.parametrize("forgery", FORGERIES)
def test_a_forged_action_call_is_refused_and_changes_nothing(action_server: ActionServer, forgery: str) -> None:
    headers, status = FORGERIES[forgery]
    response = post(action_server, json.dumps(save_address_call("81502")).encode(), {"Host": action_server.host(), **headers})
    assert response.status_code == status, response.text
    assert "error" in response.json()
    assert action_server.address_of("81502") == OLD_ADDRESS
    assert action_server.requested_addresses("81502") == []


@pytest.mark.parametrize("host", ["evil.example:80", "attacker.test", "127.0.0.1:1", ""])
def test_a_foreign_host_is_refused_even_with_the_token(action_server: ActionServer, host: str) -> None:
    # DNS rebinding: the shop owner's browser reaches 127.0.0.1 under the attacker's name.
    headers = {"Content-Type": "application/json", "Authorization": "Bearer " + TOKEN}
    if host:
        headers["Host"] = host
    response = post(action_server, json.dumps(save_address_call("81502")).encode(), headers)
    assert response.status_code == 400
    assert action_server.address_of("81502") == OLD_ADDRESS
    assert action_server.requested_addresses("81502") == []


@pytest.mark.parametrize("body", [b"[1, 2]", b"not json", b'"text"', b""])
def test_a_body_that_is_not_a_json_object_is_refused(action_server: ActionServer, body: bytes) -> None:
    headers = {"Host": action_server.host(), "Content-Type": "application/json", "Authorization": "Bearer " + TOKEN}
    assert post(action_server, body, headers).status_code == 400


def test_only_the_health_check_is_open(action_server: ActionServer) -> None:
    assert httpx.get(action_server.url + "/health").status_code == 200
    assert httpx.get(action_server.url + "/actions").status_code == 401
    listed = httpx.get(action_server.url + "/actions", headers={"Authorization": "Bearer " + TOKEN})
    assert listed.status_code == 200 and "action_save_address" in {a["name"] for a in listed.json()}


def test_rasa_with_the_token_is_served(action_server: ActionServer) -> None:
    headers = {"Host": action_server.host(), "Content-Type": "application/json", "Authorization": "Bearer " + TOKEN}
    response = post(action_server, json.dumps(save_address_call("81503")).encode(), headers)
    assert response.status_code == 200, response.text
    assert action_server.requested_addresses("81503") == [NEW_ADDRESS]


def test_a_token_that_is_not_even_utf8_is_a_401_not_a_500(action_server: ActionServer) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", action_server.port, timeout=20)
    try:
        conn.putrequest("POST", "/webhook", skip_host=True)
        conn.putheader("Host", action_server.host())
        conn.putheader("Content-Type", "application/json")
        conn.putheader("Authorization", b"Bearer \xff\xfe\xc3" + TOKEN.encode())
        conn.putheader("Content-Length", "2")
        conn.endheaders(b"{}")
        assert conn.getresponse().status == 401
    finally:
        conn.close()


def test_the_action_server_implements_every_action_the_domain_names() -> None:
    from rasa_sdk.executor import ActionExecutor

    executor = ActionExecutor()
    executor.register_package("actions")
    named = set(load_domain()["actions"])
    assert named and named <= set(executor.actions), named - set(executor.actions)


def test_the_action_servers_log_lines_are_scrubbed_json(capsys: pytest.CaptureFixture[str]) -> None:
    """What rasa-sdk or a CRM error logs reaches stderr as the gateway's JSON lines, scrubbed."""
    import logging

    from actions.server import configure_logging

    root = logging.getLogger()
    before = list(root.handlers), root.level
    try:
        configure_logging()
        detail = 'Key (email)=(ada.lovelace@example.com) already exists; call +44 20 7946 0958'
        logging.getLogger("rasa_sdk.executor").error("action failed: %s", detail)
        logging.getLogger("sanic.error").error("Exception occurred while handling uri: %s", detail)
    finally:
        for handler in list(root.handlers):
            if handler not in before[0]:
                root.removeHandler(handler)
        root.setLevel(before[1])
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    assert [line["logger"] for line in lines] == ["rasa_sdk.executor", "sanic.error"], lines
    for line in lines:
        assert "ada.lovelace" not in line["msg"] and "7946" not in line["msg"], line
        assert "[email]" in line["msg"] and "[phone]" in line["msg"], line
