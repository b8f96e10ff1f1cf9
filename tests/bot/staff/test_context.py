"""bot.staff.context: who is signed in, the session signer the settings allow, and the templates' filters."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import SecretStr
from sqlalchemy.orm import Session

from bot.settings import GatewaySettings
from bot.staff import context, sessions
from bot.staff.context import Principal, _load_principal, make_signer, make_templates
from crm.models import StaffRole
from tests.factories import make_staff_user

SECRET = "staff-session-secret-for-tests-0123"


def gateway_settings(**values: object) -> GatewaySettings:
    return GatewaySettings(_env_file=None).model_copy(update=values)  # type: ignore[call-arg]


def test_a_principal_knows_its_role_and_how_the_audit_log_names_it(principal: Callable[..., Principal]) -> None:
    admin, agent = principal(7, StaffRole.admin), principal(8)
    assert (admin.is_admin, agent.is_admin) == (True, False)
    assert admin.actor == "staff:7"


def test_sessions_last_the_configured_hours_and_production_without_a_secret_is_closed() -> None:
    signer = make_signer(gateway_settings(staff_session_secret=SecretStr(SECRET), staff_session_hours=2))
    assert signer is not None
    token = signer.issue(staff_id=1, password_hash="h")
    signed = signer.read(token)
    assert signed is not None and 7190 < signed.expires_at - datetime.now(UTC).timestamp() <= 7200
    assert make_signer(gateway_settings(environment="production", staff_session_secret=SecretStr("  "))) is None
    # Development without a secret: a random one, so sessions end with the process.
    unset = gateway_settings(staff_session_secret=SecretStr(""))
    first, second = make_signer(unset), make_signer(unset)
    assert first is not None and second is not None
    assert second.read(first.issue(staff_id=1, password_hash="h")) is None


def test_a_session_names_its_staff_member_until_they_are_deactivated_or_change_password(session: Session) -> None:
    staff = make_staff_user(session, name="Sam Carter", role=StaffRole.admin, password_hash="$argon2id$old")
    signed = sessions.StaffSession("s1", staff.id, 0.0, sessions.password_fingerprint("$argon2id$old"))
    found = _load_principal(session, signed=signed, csrf="token")
    assert found is not None and (found.id, found.name, found.email, found.role, found.csrf) == (
        staff.id, "Sam Carter", staff.email, StaffRole.admin, "token")
    staff.password_hash = "$argon2id$new"
    assert _load_principal(session, signed=signed, csrf="token") is None
    staff.password_hash, staff.active = "$argon2id$old", False
    assert _load_principal(session, signed=signed, csrf="token") is None
    gone = sessions.StaffSession("s2", staff.id + 100, 0.0, signed.password_fingerprint)
    assert _load_principal(session, signed=gone, csrf="token") is None


def test_the_templates_escape_and_show_times_in_the_shops_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(context, "shop_timezone", lambda: ZoneInfo("Asia/Tokyo"))
    env = make_templates()

    def render(source: str, **values: object) -> str:
        return env.from_string(source).render(**values)

    assert render("{{ x }}", x="<b>") == "&lt;b&gt;"
    assert render("{{ when | clock }}", when=datetime(2026, 11, 2, 15, 30, tzinfo=UTC)) == "03 Nov 2026, 00:30"
    assert render("{{ when | clock }}", when=None) == ""
    assert render("{{ reason | label }}", reason="request_human") == "request human"
    now = datetime.now(UTC)
    deltas = (timedelta(seconds=5), timedelta(minutes=3), timedelta(hours=3, minutes=5), timedelta(days=3))
    ages = [render("{{ t | ago }}", t=now - delta) for delta in deltas]
    assert ages == ["just now", "3 min", "3 h 5 min", "3 days"]
    with pytest.raises(Exception, match="undefined"):
        render("{{ missing }}")


def test_the_shop_time_zone_comes_from_the_shop_profile() -> None:
    assert context.shop_timezone() == ZoneInfo("Europe/London")
