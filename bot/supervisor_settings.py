"""What `python -m bot.supervisor` reads: its typed settings, and whether the demo shop runs.

The supervisor reads the environment only (not `.env`): each child reads `.env`
itself, and what the supervisor sets for a child (ports, DEMO_MODE) wins over it.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from crm.settings import DEFAULT_DATABASE_URL


def truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


class SupervisorSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    # Asked for; the demo runs only on a CRM without the shop's own customers (decide_demo).
    demo_mode: bool = False
    rasa_port: int = Field(default=5005, ge=0, le=65535)
    action_port: int = Field(default=5055, ge=0, le=65535)
    gateway_port: int = Field(default=8000, ge=0, le=65535)

    @field_validator("database_url", mode="before")
    @classmethod
    def _empty_is_default(cls, value: object) -> object:
        return value or DEFAULT_DATABASE_URL

    @field_validator("demo_mode", mode="before")
    @classmethod
    def _demo_words(cls, value: object) -> bool:
        return value if isinstance(value, bool) else truthy(str(value))


def real_customers(database_url: str) -> int:
    """How many customers in the CRM the demo did not create (0 if there is no CRM yet)."""
    from sqlalchemy.exc import SQLAlchemyError

    from crm.db import get_sessionmaker
    from crm.demo import real_customer_count

    try:
        with get_sessionmaker(database_url)() as session:
            return real_customer_count(session)
    except SQLAlchemyError:
        return 0


def decide_demo(env: Mapping[str, str], real: int) -> tuple[bool, str]:
    """Whether the demo page runs, and the banner line that says so.

    Demo sign-in vouches for whoever the visitor picks; on a CRM holding the
    shop's own customers it stays off however DEMO_MODE is set."""
    if not truthy(env.get("DEMO_MODE")):
        return False, "Demo sign-in: off (DEMO_MODE is not set)."
    if real:
        return False, (
            f"Demo sign-in: OFF. The CRM holds {real} customer(s) the demo did not create, so the demo "
            "shop is not started. To try the demo, use its own database (see README, 'From the demo to "
            "your own data')."
        )
    return True, "Demo sign-in: on (demo customers only). Do not expose this address to the internet."


def banner(*, url: str, seconds: float, demo: bool, demo_line: str) -> str:
    return (
        f"\n  Ready in {seconds:.0f}s.\n"
        f"  {'Demo shop with the chat widget' if demo else 'Gateway'}: {url}/\n"
        f"  {demo_line}\n"
        f"  Health: {url}/healthz   Metrics: {url}/metrics\n"
        "  Press Ctrl-C to stop.\n"
    )
