"""The production units start what the development supervisor starts, the same hardened way."""

from __future__ import annotations

import configparser
import re
from pathlib import Path

from bot.supervisor import Stack

ROOT = Path(__file__).resolve().parents[2]
UNITS = ROOT / "deploy" / "systemd"


def unit(name: str) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=False)
    parser.optionxform = str  # type: ignore[assignment, method-assign]
    parser.read(UNITS / name)
    return parser


def wanted_by_target() -> set[str]:
    lines = (UNITS / "juniper-oak.target").read_text().splitlines()
    return {unit for line in lines if line.startswith("Wants=") for unit in line[len("Wants=") :].split()}


def exec_start(name: str) -> str:
    return " ".join(unit(name)["Service"]["ExecStart"].replace("\\\n", " ").split())


def module_of(command: str) -> str | None:
    match = re.search(r"-m (\S+)", command)
    return match.group(1) if match else None


def test_every_process_the_supervisor_starts_has_a_unit_running_the_same_module() -> None:
    commands = Stack(env={}).commands({})
    supervised = {name: module_of(" ".join(command)) for name, command in commands.items()}
    assert set(supervised) == {"actions", "rasa", "gateway", "worker"}
    for name, module in supervised.items():
        assert module_of(exec_start(f"juniper-oak-{name}.service")) == module, name
        assert f"juniper-oak-{name}.service" in wanted_by_target(), name


def test_the_gateway_never_deflates_websocket_frames_in_development_or_production() -> None:
    """zlib on every small widget frame was a quarter of the gateway's CPU per message."""
    supervised = " ".join(Stack(env={}).commands({})["gateway"])
    for command in (supervised, exec_start("juniper-oak-gateway.service")):
        assert "--ws-per-message-deflate false" in command, command


def test_no_unit_puts_a_secret_on_the_command_line() -> None:
    for path in UNITS.glob("*.service"):
        command = exec_start(path.name)
        assert "--auth-token" not in command, path.name
        assert not re.search(r"\$\{?[A-Z_]*(TOKEN|SECRET|PASSWORD)", command), path.name


def test_the_action_server_unit_is_the_guarded_one_not_plain_rasa_sdk() -> None:
    command = exec_start("juniper-oak-actions.service")
    assert "rasa_sdk" not in command
    assert module_of(command) == "actions.server"
