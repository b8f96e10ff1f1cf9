"""The parts of the gateway's settings each channel and component is given (only its own).

Read from the one GatewaySettings object (bot/settings.py: `settings.widget`,
`settings.sms`, `settings.telegram`, `settings.staff`); the environment
variables keep their flat names.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, SecretStr


class _Part(BaseModel):
    model_config = ConfigDict(frozen=True)


class WidgetSettings(_Part):
    identity_secret: SecretStr
    identity_max_ttl_seconds: int
    identity_allow_unexpiring: bool
    session_idle_days: float
    max_message_chars: int
    max_frame_bytes: int


class SmsSettings(_Part):
    account_sid: str
    auth_token: SecretStr
    from_number: str
    api_base_url: str
    # What Twilio calls (signatures are computed over it): PUBLIC_BASE_URL plus the webhook path.
    public_base_url: str

    @property
    def enabled(self) -> bool:
        return bool(self.account_sid.strip())


class TelegramSettings(_Part):
    bot_token: SecretStr
    mode: Literal["webhook", "polling"]
    webhook_secret: SecretStr
    webhook_url: str | None
    api_base_url: str
    bot_username: str
    link_secret: SecretStr
    link_ttl_seconds: int
    public_base_url: str
    max_message_chars: int
    # A staff chat told about each new handoff (bot/handoff.py TelegramStaffAlerts).
    staff_chat_id: str

    @property
    def enabled(self) -> bool:
        return bool(self.bot_token.get_secret_value().strip())


class StaffSettings(_Part):
    environment: Literal["development", "production"]
    session_secret: SecretStr
    session_hours: float
    known_address_days: float
    ws_recheck_seconds: float
    canned_replies_path: Path
    max_message_chars: int
