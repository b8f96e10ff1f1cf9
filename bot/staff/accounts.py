"""Staff accounts: service functions (keyword-only, take the session, return an object or None)."""

from __future__ import annotations

import re

from argon2 import PasswordHasher
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.staff import passwords
from crm.models import StaffRole, StaffUser
from crm.services.audit import audit

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
MAX_NAME = 100


class AccountError(ValueError):
    """A staff account request that cannot be done; the message is for the person asking."""


def normalise_email(email: str) -> str:
    return email.strip().lower()


def _checked(email: str, name: str) -> tuple[str, str]:
    email = normalise_email(email)
    name = " ".join(name.split())
    # Length first: the pattern backtracks on long input.
    if len(email) > 254 or not _EMAIL.match(email):
        raise AccountError("That doesn't look like an e-mail address.")
    if not name:
        raise AccountError("Give the person a name (shown to customers when they join a chat).")
    if len(name) > MAX_NAME:
        raise AccountError(f"A name can have at most {MAX_NAME} characters.")
    return email, name


def get_staff(session: Session, *, staff_id: int) -> StaffUser | None:
    return session.get(StaffUser, staff_id)


def get_staff_by_email(session: Session, *, email: str) -> StaffUser | None:
    return session.scalars(select(StaffUser).where(StaffUser.email == normalise_email(email))).first()


def list_staff(session: Session) -> list[StaffUser]:
    return list(session.scalars(select(StaffUser).order_by(StaffUser.active.desc(), StaffUser.name)))


def create_staff(
    session: Session,
    *,
    email: str,
    name: str,
    role: StaffRole,
    password: str,
    actor: str,
    hasher: PasswordHasher | None = None,
    password_hash: str | None = None,
) -> StaffUser:
    """A new account. AccountError for a bad or taken e-mail, WeakPassword for a short password.

    `password_hash`: the password already hashed (the gateway hashes on its own pool, not here).
    """
    email, name = _checked(email, name)
    if get_staff_by_email(session, email=email) is not None:
        raise AccountError("There is already an account with that e-mail address.")
    staff = StaffUser(
        email=email,
        name=name,
        role=role,
        password_hash=password_hash or passwords.hash_password(password, hasher=hasher),
    )
    session.add(staff)
    session.flush()
    audit(
        session, actor=actor, action="staff.create", subject=f"staff:{staff.id}", detail={"role": role.value}
    )
    return staff


def authenticate(session: Session, *, email: str, password: str) -> StaffUser | None:
    """The active account with this e-mail and password, else None (same work either way)."""
    staff = get_staff_by_email(session, email=email) if len(email) <= 254 else None
    ok = passwords.verify_password(staff.password_hash if staff is not None else None, password)
    if staff is None or not ok or not staff.active:
        return None
    if passwords.needs_rehash(staff.password_hash):
        staff.password_hash = passwords.rehash(password)
    return staff


def update_staff(
    session: Session,
    *,
    staff_id: int,
    actor_id: int,
    role: StaffRole | None = None,
    active: bool | None = None,
    password: str | None = None,
    password_hash: str | None = None,
) -> StaffUser | None:
    """Change a role, (de)activate, or set a new password. None for an unknown account.

    Nobody can demote or deactivate themselves, so a shop always keeps an admin who can sign in.
    """
    staff = session.get(StaffUser, staff_id)
    if staff is None:
        return None
    changes: dict[str, object] = {}
    if staff_id == actor_id and (role == StaffRole.agent or active is False):
        raise AccountError("You can't remove your own admin rights or deactivate yourself.")
    if role is not None and role != staff.role:
        if staff.role == StaffRole.admin and _last_admin(session, staff):
            raise AccountError("This is the last active admin; make someone else an admin first.")
        staff.role = role
        changes["role"] = role.value
    if active is not None and active != staff.active:
        if not active and staff.role == StaffRole.admin and _last_admin(session, staff):
            raise AccountError("This is the last active admin; make someone else an admin first.")
        staff.active = active
        changes["active"] = active
    if password is not None or password_hash is not None:
        staff.password_hash = password_hash or passwords.hash_password(password or "")
        changes["password"] = "reset"
    if changes:
        audit(
            session,
            actor=f"staff:{actor_id}",
            action="staff.update",
            subject=f"staff:{staff_id}",
            detail=changes,
        )
        session.flush()
    return staff


def _last_admin(session: Session, staff: StaffUser) -> bool:
    others = session.scalar(
        select(func.count(StaffUser.id)).where(
            StaffUser.role == StaffRole.admin, StaffUser.active.is_(True), StaffUser.id != staff.id
        )
    )
    return not others
