"""CRM settings, read once from the environment (and `.env`)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class CRMSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str = f"sqlite:///{PROJECT_ROOT / 'var' / 'crm.db'}"
    shop_profile: Path = PROJECT_ROOT / "shop.yml"
    # Lifetime spend that makes a customer VIP, in the shop's currency.
    vip_spend_threshold: float = 500.0
    # Number of orders in the last 365 days that also makes a customer VIP.
    vip_order_threshold: int = 5


@lru_cache
def get_settings() -> CRMSettings:
    return CRMSettings()
