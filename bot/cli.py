"""`python -m bot <command>`: the gateway's command line."""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from bot.settings import get_settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot", description="The shop assistant's gateway.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the gateway (HTTP, widget WebSocket, webhooks)")
    serve.add_argument("--host", help="interface to bind (default: GATEWAY_HOST, 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default: GATEWAY_PORT, 8000)")
    serve.add_argument("--migrate", action="store_true", help="bring the database schema up to date first")
    serve.set_defaults(run=_serve)

    worker = commands.add_parser("worker", help="deliver requests to the shop (outbox) and purge old events")
    worker.set_defaults(run=_worker)

    staff = commands.add_parser("staff", help="staff console accounts")
    staff_commands = staff.add_subparsers(dest="staff_command", required=True)
    add = _password_command(
        staff_commands, "add", "create a staff account (asks for the password)", _staff_add, " (for scripts)"
    )
    add.add_argument("--name", required=True, help="shown to customers when this person joins a chat")
    add.add_argument("--role", choices=["agent", "admin"], default="agent")
    _password_command(staff_commands, "set-password", "give an account a new password", _staff_set_password)
    listing = staff_commands.add_parser("list", help="list staff accounts")
    listing.set_defaults(run=_staff_list)

    keys = commands.add_parser("keys", help="API keys for the shop's JSON API (/api/v1)")
    key_commands = keys.add_subparsers(dest="keys_command", required=True)
    key_add = key_commands.add_parser("add", help="create a key (shown once; only a hash is stored)")
    key_add.add_argument("--name", required=True, help="which shop or system will use it")
    key_add.set_defaults(run=_keys_add)
    key_commands.add_parser("list", help="list keys").set_defaults(run=_keys_list)
    key_revoke = key_commands.add_parser("revoke", help="revoke a key by its id")
    key_revoke.add_argument("id", type=int)
    key_revoke.set_defaults(run=_keys_revoke)
    return parser


def _worker(args: argparse.Namespace) -> int:
    import asyncio

    from bot.logs import configure_logging
    from bot.worker import serve

    settings = get_settings()
    configure_logging(settings.log_level)
    asyncio.run(serve(settings))
    return 0


def _keys_add(args: argparse.Namespace) -> int:
    from crm.db import session_scope
    from crm.services.api_keys import create_api_key

    try:
        with session_scope(get_settings().database_url) as session:
            row, key = create_api_key(session, name=args.name, actor="cli")
            key_id = row.id
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"Created API key {key_id}. Copy it now; it is not shown again:\n{key}")
    return 0


def _keys_list(args: argparse.Namespace) -> int:
    from crm.db import session_scope
    from crm.services.api_keys import list_api_keys

    with session_scope(get_settings().database_url) as session:
        rows = [(k.id, k.prefix, k.name, k.revoked_at, k.last_used_at) for k in list_api_keys(session)]
    if not rows:
        print("No API keys yet: python -m bot keys add --name …")
    for key_id, prefix, name, revoked, used in rows:
        state = "revoked" if revoked else "active"
        last = used.isoformat(timespec="minutes") if used else "never used"
        print(f"{key_id}\t{state}\t{prefix}…\t{last}\t{name}")
    return 0


def _keys_revoke(args: argparse.Namespace) -> int:
    from crm.db import session_scope
    from crm.services.api_keys import revoke_api_key

    with session_scope(get_settings().database_url) as session:
        row = revoke_api_key(session, key_id=args.id, actor="cli")
    if row is None:
        print(f"There is no API key {args.id}.", file=sys.stderr)
        return 1
    print(f"API key {args.id} is revoked.")
    return 0


def _password_command(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    help: str,
    run: Callable[[argparse.Namespace], int],
    stdin_note: str = "",
) -> argparse.ArgumentParser:
    """A staff command that sets a password: --email, and --password-stdin instead of the prompt."""
    command = commands.add_parser(name, help=help)
    command.add_argument("--email", required=True)
    command.add_argument(
        "--password-stdin", action="store_true", help=f"read the password from standard input{stdin_note}"
    )
    command.set_defaults(run=run)
    return command


def _read_password(from_stdin: bool) -> str | None:
    """The new password, typed twice at a prompt, or one line of standard input."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password (at least 12 characters): ")
    second = getpass.getpass("Same password again: ")
    if first != second:
        print("The two passwords differ; nothing was changed.", file=sys.stderr)
        return None
    return first


class _Refused(Exception):
    """A staff command cannot do what was asked; the message says why."""


def _with_new_password(args: argparse.Namespace, write: Callable[[Session, str], str]) -> int:
    """Read the new password, then `write` it in one unit of work and print what it says.

    A weak password, an account error or `_Refused` changes nothing and is printed instead.
    """
    from bot.staff import accounts, passwords
    from crm.db import session_scope

    password = _read_password(args.password_stdin)
    if password is None:
        return 1
    try:
        with session_scope(get_settings().database_url) as session:
            done = write(session, password)
    except (_Refused, accounts.AccountError, passwords.WeakPassword) as exc:
        print(exc, file=sys.stderr)
        return 1
    print(done)
    return 0


def _staff_add(args: argparse.Namespace) -> int:
    from bot.staff import accounts
    from crm.models import StaffRole

    def create(session: Session, password: str) -> str:
        staff = accounts.create_staff(
            session,
            email=args.email,
            name=args.name,
            role=StaffRole(args.role),
            password=password,
            actor="cli",
        )
        return f"Created {staff.role.value} account {staff.email} (id {staff.id}). Sign in at /staff."

    return _with_new_password(args, create)


def _staff_set_password(args: argparse.Namespace) -> int:
    from bot.staff import accounts, passwords
    from crm.services.audit import audit

    def reset(session: Session, password: str) -> str:
        staff = accounts.get_staff_by_email(session, email=args.email)
        if staff is None:
            raise _Refused("There is no staff account with that e-mail address.")
        staff.password_hash = passwords.hash_password(password)
        audit(
            session,
            actor="cli",
            action="staff.update",
            subject=f"staff:{staff.id}",
            detail={"password": "reset"},
        )
        return "Password changed; sessions signed in with the old one have ended."

    return _with_new_password(args, reset)


def _staff_list(args: argparse.Namespace) -> int:
    from bot.staff import accounts
    from crm.db import session_scope

    with session_scope(get_settings().database_url) as session:
        people = [(s.id, s.email, s.name, s.role.value, s.active) for s in accounts.list_staff(session)]
    if not people:
        print("No staff accounts yet: python -m bot staff add --email … --name … --role admin")
    for staff_id, email, name, role, active in people:
        print(f"{staff_id}\t{role}\t{'active' if active else 'deactivated'}\t{email}\t{name}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from bot.logs import configure_logging

    settings = get_settings()
    configure_logging(settings.log_level)
    if args.migrate:
        from crm.migrate import upgrade

        upgrade(settings.database_url)
    uvicorn.run(
        "bot.app:create_app",
        factory=True,
        host=args.host or settings.gateway_host,
        port=args.port if args.port is not None else settings.gateway_port,
        # Logging is ours: JSON, and no query strings (the widget's session token is in one).
        log_config=None,
        access_log=False,
        # Oversized frames are refused before they are read into memory (close 1009).
        ws_max_size=settings.max_ws_frame_bytes,
        # The widget's frames are small: compressing each cost more CPU than it saved (docs/performance.md).
        ws_per_message_deflate=False,
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.run(args))
