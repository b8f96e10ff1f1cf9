"""bot.staff.accounts: staff accounts created, signed in, changed, and never left without an admin."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.staff import passwords
from bot.staff.accounts import (
    AccountError,
    _checked,
    authenticate,
    create_staff,
    get_staff,
    get_staff_by_email,
    list_staff,
    update_staff,
)
from crm.models import AuditEntry, StaffRole, StaffUser
from tests.timing import assert_linear

PASSWORD = "correct horse battery staple"


@pytest.fixture
def add(session: Session, cheap_hasher: PasswordHasher) -> Callable[..., StaffUser]:
    """add(email, name=..., role=..., password=...): create_staff as an admin would, hashed cheaply."""

    def create(email: str, name: str = "Name", role: StaffRole = StaffRole.agent, password: str = PASSWORD) -> StaffUser:
        return create_staff(
            session, email=email, name=name, role=role, password=password, actor="x", hasher=cheap_hasher
        )

    return create


def audit_trail(session: Session) -> list[tuple[str, str, str, dict[str, object]]]:
    session.flush()
    entries = session.scalars(select(AuditEntry).order_by(AuditEntry.id))
    return [(e.actor, e.action, e.subject, e.detail) for e in entries]


def test_a_new_account_is_tidied_hashed_and_audited(session: Session, cheap_hasher: PasswordHasher) -> None:
    staff = create_staff(
        session, email="  Sam.Carter@Example.COM ", name="  Sam   Carter ", role=StaffRole.admin,
        password=PASSWORD, actor="staff:0", hasher=cheap_hasher,
    )  # fmt: skip
    assert (staff.email, staff.name, staff.role, staff.active) == (
        "sam.carter@example.com", "Sam Carter", StaffRole.admin, True)
    assert staff.password_hash.startswith("$argon2id$") and PASSWORD not in staff.password_hash
    assert get_staff(session, staff_id=staff.id) is staff
    assert get_staff_by_email(session, email="SAM.CARTER@example.com ") is staff
    assert audit_trail(session) == [("staff:0", "staff.create", f"staff:{staff.id}", {"role": "admin"})]


@pytest.mark.parametrize(
    ("email", "name", "password", "problem"),
    [
        ("not-an-address", "Sam", PASSWORD, "doesn't look like an e-mail address"),
        ("sam@example.com", "   ", PASSWORD, "Give the person a name"),
        ("sam@example.com", "x" * 101, PASSWORD, "at most 100 characters"),
        ("taken@example.com", "Sam", PASSWORD, "already an account with that e-mail"),
    ],
)
def test_a_bad_request_says_what_is_wrong(
    session: Session, add: Callable[..., StaffUser], email: str, name: str, password: str, problem: str
) -> None:
    add("taken@example.com", "First")
    with pytest.raises(AccountError, match=problem):
        add(email, name, password=password)
    with pytest.raises(passwords.WeakPassword):
        add("new@example.com", "New", password="short")
    assert [s.email for s in list_staff(session)] == ["taken@example.com"]


def test_a_huge_e_mail_is_refused_before_the_pattern_sees_it() -> None:
    def check(text: str) -> None:
        with pytest.raises(AccountError):
            _checked(text, "Name")

    # `[^@\s]+\.[^@\s]+$` backtracks quadratically on "x@a.a.a… ".
    assert_linear(check, [lambda n: "x@" + "a." * (n // 2) + " "])


def test_only_an_active_account_with_the_right_password_signs_in_and_old_hashes_are_renewed(
    session: Session, add: Callable[..., StaffUser]
) -> None:
    staff = add("a@example.com")
    weak_hash = staff.password_hash
    assert authenticate(session, email="nobody@example.com", password=PASSWORD) is None
    assert authenticate(session, email="a@example.com", password=PASSWORD + "!") is None
    assert staff.password_hash == weak_hash
    assert authenticate(session, email=" A@example.com", password=PASSWORD) is staff
    assert staff.password_hash != weak_hash and not passwords.needs_rehash(staff.password_hash)  # today's cost
    staff.active = False
    assert authenticate(session, email="a@example.com", password=PASSWORD) is None
    assert authenticate(session, email="a" * 300 + "@example.com", password=PASSWORD) is None


def test_a_shop_always_keeps_an_active_admin(session: Session, add: Callable[..., StaffUser]) -> None:
    admin, agent = add("admin@example.com", role=StaffRole.admin).id, add("agent@example.com").id
    with pytest.raises(AccountError, match="your own admin rights"):
        update_staff(session, staff_id=admin, actor_id=admin, role=StaffRole.agent)
    with pytest.raises(AccountError, match="deactivate yourself"):
        update_staff(session, staff_id=admin, actor_id=admin, active=False)
    with pytest.raises(AccountError, match="last active admin"):
        update_staff(session, staff_id=admin, actor_id=agent, active=False)
    assert update_staff(session, staff_id=agent, actor_id=admin, role=StaffRole.admin) is not None
    demoted = update_staff(session, staff_id=admin, actor_id=agent, role=StaffRole.agent)
    assert demoted is not None and demoted.role == StaffRole.agent
    assert update_staff(session, staff_id=agent + 100, actor_id=admin, active=False) is None
    changes = [(actor, subject, detail) for actor, action, subject, detail in audit_trail(session) if action == "staff.update"]
    assert changes == [
        (f"staff:{admin}", f"staff:{agent}", {"role": "admin"}),
        (f"staff:{agent}", f"staff:{admin}", {"role": "agent"}),
    ]


def test_a_password_reset_is_audited_without_the_password_and_no_change_is_not_audited(
    session: Session, add: Callable[..., StaffUser]
) -> None:
    staff = add("b@example.com")
    update_staff(session, staff_id=staff.id, actor_id=99, role=StaffRole.agent, active=True)  # nothing changes
    update_staff(session, staff_id=staff.id, actor_id=99, password_hash="$argon2id$new")
    assert staff.password_hash == "$argon2id$new"
    assert [(a, d) for _, a, _, d in audit_trail(session)] == [
        ("staff.create", {"role": "agent"}), ("staff.update", {"password": "reset"})]


def test_the_list_shows_active_accounts_first_then_by_name(session: Session, add: Callable[..., StaffUser]) -> None:
    add("z@example.com", "Zed")
    add("b@example.com", "Bea")
    add("a@example.com", "Al").active = False
    assert [s.name for s in list_staff(session)] == ["Bea", "Zed", "Al"]
