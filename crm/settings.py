"""CRM settings, read once from the environment (and `.env`)."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# The one default for every process (gateway, action server, CLI, supervisor).
DEFAULT_DATABASE_URL = f"sqlite:///{PROJECT_ROOT / 'var' / 'crm.db'}"


class CRMSettings(BaseSettings):
    """What every process that opens the CRM reads; the gateway's and the action
    server's settings extend it, so each process has one settings object."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    shop_profile: Path = PROJECT_ROOT / "shop.yml"
    # Lifetime spend that makes a customer VIP, in the shop's currency.
    vip_spend_threshold: float = 500.0
    # Number of orders in the last 365 days that also makes a customer VIP.
    vip_order_threshold: int = 5
    # In-chat verification (order number + e-mail): failures counted across every
    # conversation, gateway and restart, per order number, per e-mail and per
    # client address; reaching a limit pauses verification for the window.
    verification_window_minutes: float = Field(default=15, gt=0)
    verification_max_failures_per_order: int = Field(default=5, gt=0)
    verification_max_failures_per_email: int = Field(default=5, gt=0)
    verification_max_failures_per_client: int = Field(default=10, gt=0)


@lru_cache
def get_settings() -> CRMSettings:
    return CRMSettings()


def blank_or_matching(value: str, pattern: str, problem: str) -> str:
    """A setting that may be left empty, or else must match `pattern` whole; ValueError(problem) if not."""
    if value and not re.fullmatch(pattern, value):
        raise ValueError(problem)
    return value


def stripped_blank_or_matching(field: str, *, pattern: str, problem: str) -> Any:
    """A pydantic validator for `field`: surrounding spaces dropped, then `blank_or_matching`.

    Assign it in the class body: `_check = stripped_blank_or_matching("name", pattern=..., problem=...)`.
    """

    def check(cls: type, value: str) -> str:
        return blank_or_matching(value.strip(), pattern, problem)

    return field_validator(field)(check)
