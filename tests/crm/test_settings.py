"""crm.settings: what every process that opens the CRM reads from the environment."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from crm.settings import DEFAULT_DATABASE_URL, PROJECT_ROOT, CRMSettings, blank_or_matching, stripped_blank_or_matching


def settings(**values: object) -> CRMSettings:
    return CRMSettings(_env_file=None, **values)  # type: ignore[call-arg]


def test_the_defaults_are_a_local_sqlite_crm_and_the_shipped_shop(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABASE_URL", "SHOP_PROFILE", "VIP_SPEND_THRESHOLD", "VERIFICATION_WINDOW_MINUTES"):
        monkeypatch.delenv(name, raising=False)
    defaults = settings()
    assert defaults.database_url == DEFAULT_DATABASE_URL == f"sqlite:///{PROJECT_ROOT / 'var' / 'crm.db'}"
    assert defaults.shop_profile == PROJECT_ROOT / "shop.yml"
    assert (defaults.vip_spend_threshold, defaults.vip_order_threshold) == (500.0, 5)
    assert (
        defaults.verification_window_minutes,
        defaults.verification_max_failures_per_order,
        defaults.verification_max_failures_per_email,
        defaults.verification_max_failures_per_client,
    ) == (15, 5, 5, 10)


def test_values_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "sqlite:///elsewhere.db")
    monkeypatch.setenv("VIP_ORDER_THRESHOLD", "9")
    monkeypatch.setenv("VERIFICATION_WINDOW_MINUTES", "2.5")
    read = settings()
    assert (read.database_url, read.vip_order_threshold, read.verification_window_minutes) == (
        "sqlite:///elsewhere.db", 9, 2.5)


@pytest.mark.parametrize(
    "name", ["verification_window_minutes", "verification_max_failures_per_order",
             "verification_max_failures_per_email", "verification_max_failures_per_client"],
)
def test_a_limit_or_window_of_zero_is_refused(name: str) -> None:
    with pytest.raises(ValidationError, match=name):
        settings(**{name: 0})


def test_blank_or_matching() -> None:
    assert blank_or_matching("", r"\d+", "digits only") == ""
    assert blank_or_matching("123", r"\d+", "digits only") == "123"
    with pytest.raises(ValueError, match="digits only"):
        blank_or_matching("12a", r"\d+", "digits only")  # the whole value must match


def test_the_stripped_validator_drops_spaces_then_checks() -> None:
    class Phone(BaseModel):
        number: str = ""
        _check = stripped_blank_or_matching("number", pattern=r"\+\d{6,15}", problem="an E.164 number")

    assert Phone(number="  +447700900123 ").number == "+447700900123"
    assert Phone(number="   ").number == ""
    with pytest.raises(ValidationError, match="an E.164 number"):
        Phone(number="07700 900123")
