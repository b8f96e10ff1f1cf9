"""`python -m bot staff ...`: creating staff accounts from the server's shell."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot import cli
from bot.settings import get_settings
from bot.staff.passwords import verify_password
from crm.models import AuditEntry, StaffRole, StaffUser


@pytest.fixture
def run(gateway_db_url: str, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DATABASE_URL", gateway_db_url)
    get_settings.cache_clear()

    def run_cli(*argv: str, stdin: str = "") -> int:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        return cli.main(list(argv))

    yield run_cli
    get_settings.cache_clear()


def staff_rows(db: sessionmaker[Session]) -> list[StaffUser]:
    with db() as session:
        return list(session.scalars(select(StaffUser).order_by(StaffUser.id)))


def test_staff_add_creates_an_argon2_account_from_stdin(
    run, db: sessionmaker[Session], capsys: pytest.CaptureFixture[str]
) -> None:  # type: ignore[no-untyped-def]
    code = run(
        "staff",
        "add",
        "--email",
        "Robin@Shop.example",
        "--name",
        "Robin Admin",
        "--role",
        "admin",
        "--password-stdin",
        stdin="a long admin password\n",
    )
    assert code == 0
    (robin,) = staff_rows(db)
    assert (robin.email, robin.name, robin.role, robin.active) == (
        "robin@shop.example",
        "Robin Admin",
        StaffRole.admin,
        True,
    )
    assert robin.password_hash.startswith("$argon2id$")
    assert verify_password(robin.password_hash, "a long admin password")
    assert "a long admin password" not in robin.password_hash
    assert "Created admin account robin@shop.example" in capsys.readouterr().out
    with db() as session:
        (entry,) = session.scalars(select(AuditEntry).where(AuditEntry.action == "staff.create")).all()
    assert (entry.actor, entry.subject) == ("cli", f"staff:{robin.id}")


def test_staff_add_refuses_duplicates_weak_passwords_and_bad_addresses(
    run, db: sessionmaker[Session], capsys: pytest.CaptureFixture[str]
) -> None:  # type: ignore[no-untyped-def]
    assert (
        run(
            "staff",
            "add",
            "--email",
            "sam@shop.example",
            "--name",
            "Sam",
            "--password-stdin",
            stdin="a long enough password\n",
        )
        == 0
    )
    assert (
        run(
            "staff",
            "add",
            "--email",
            "SAM@shop.example",
            "--name",
            "Sam 2",
            "--password-stdin",
            stdin="a long enough password\n",
        )
        == 1
    )
    assert "already an account" in capsys.readouterr().err
    assert (
        run(
            "staff",
            "add",
            "--email",
            "kim@shop.example",
            "--name",
            "Kim",
            "--password-stdin",
            stdin="short\n",
        )
        == 1
    )
    assert "at least 12 characters" in capsys.readouterr().err
    assert (
        run(
            "staff",
            "add",
            "--email",
            "not-an-address",
            "--name",
            "Kim",
            "--password-stdin",
            stdin="a long enough password\n",
        )
        == 1
    )
    assert [s.email for s in staff_rows(db)] == ["sam@shop.example"]
    assert staff_rows(db)[0].role == StaffRole.agent  # the default


def test_staff_add_prompts_twice_and_a_mismatch_changes_nothing(
    run, db: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    answers = iter(["first long password", "second long password"])
    monkeypatch.setattr(cli.getpass, "getpass", lambda prompt: next(answers))
    assert run("staff", "add", "--email", "sam@shop.example", "--name", "Sam") == 1
    assert staff_rows(db) == []
    answers = iter(["same long password", "same long password"])
    assert run("staff", "add", "--email", "sam@shop.example", "--name", "Sam") == 0
    assert verify_password(staff_rows(db)[0].password_hash, "same long password")


def test_set_password_and_list(run, db: sessionmaker[Session], capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    run(
        "staff",
        "add",
        "--email",
        "sam@shop.example",
        "--name",
        "Sam Carter",
        "--password-stdin",
        stdin="a long enough password\n",
    )
    assert (
        run(
            "staff",
            "set-password",
            "--email",
            "sam@shop.example",
            "--password-stdin",
            stdin="another long password\n",
        )
        == 0
    )
    assert verify_password(staff_rows(db)[0].password_hash, "another long password")
    assert (
        run(
            "staff",
            "set-password",
            "--email",
            "nobody@shop.example",
            "--password-stdin",
            stdin="another long password\n",
        )
        == 1
    )
    capsys.readouterr()
    assert run("staff", "list") == 0
    listed = capsys.readouterr().out
    assert "agent\tactive\tsam@shop.example\tSam Carter" in listed
    assert "password" not in listed and "argon2" not in listed


def test_the_entry_point_documents_the_staff_commands() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "staff", "add", "--help"], capture_output=True, text=True
    )
    assert result.returncode == 0
    for option in ("--email", "--name", "--role", "--password-stdin"):
        assert option in result.stdout
