"""Gateway settings: one typed object, read once from the environment (and `.env`)."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from bot.settings_parts import SmsSettings, StaffSettings, TelegramSettings, WidgetSettings
from crm.secret_strength import HOW_TO_MAKE_ONE, weakness
from crm.settings import PROJECT_ROOT, CRMSettings, blank_or_matching, stripped_blank_or_matching

P = TypeVar("P", bound=BaseModel)

# Values people paste from examples; in production they mean "not configured".
_PLACEHOLDERS = frozenset({"", "changeme", "change-me", "change_me", "secret", "password", "xxx", "todo"})


class GatewaySettings(CRMSettings):
    """The gateway process's one settings object: the CRM's (database_url, shop profile,
    ...) and the gateway's own; each channel is given only its part (bot/settings_parts.py)."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    environment: Literal["development", "production"] = "development"

    rasa_url: str = "http://127.0.0.1:5005"
    # Several Rasa servers sharing one tracker and lock store (RASA_SERVERS=N in
    # the supervisor): comma-separated base URLs; conversations are spread over
    # them (bot/rasa_pool.py). Empty: RASA_URL alone.
    rasa_urls: str = ""
    rasa_token: SecretStr = SecretStr("")
    action_server_url: str = "http://127.0.0.1:5055"
    # Total time one Rasa turn may take before the customer gets the apology.
    rasa_timeout_seconds: float = Field(default=8.0, gt=0)
    # Turns sent to one Rasa server at once; the others wait in order (bot/rasa.py, RasaClient).
    rasa_max_in_flight: int = Field(default=6, ge=1)
    health_timeout_seconds: float = Field(default=2.0, gt=0)
    # A message the assistant read with less confidence than this goes to the staff review queue.
    review_confidence_threshold: float = Field(default=0.5, ge=0, le=1)

    # DATABASE_URL: CRMSettings.database_url.
    # SQLite: how long a write waits for the database lock before the customer hears
    # "unavailable" (inside the turn budget; PostgreSQL: the statement timeout for writes).
    database_busy_timeout_seconds: float = Field(default=1.5, gt=0, le=30)
    # Every acknowledged message ends answered or apologised: an open turn untouched
    # this long was abandoned (a crash, a deploy), and the recovery pass, run at
    # start-up and every TURN_RECOVERY_INTERVAL_SECONDS, finishes it or apologises.
    turn_lease_seconds: float = Field(default=20, gt=0)
    turn_recovery_interval_seconds: float = Field(default=5, gt=0)
    # A stranded message younger than this is still answered; an older one gets the apology.
    turn_resume_max_age_seconds: float = Field(default=600, gt=0)
    redis_url: str | None = None

    widget_identity_secret: SecretStr = SecretStr("")
    # A signed identity carries its expiry (HMAC of "<customer_id>:<expires_unix>"); one
    # that claims to last longer than this is refused, so nobody mints a forever credential.
    widget_identity_max_ttl_seconds: int = Field(default=24 * 3600, gt=0, le=30 * 86_400)
    # The old form (HMAC of the customer id alone, no expiry) works only if the shop opts in.
    widget_identity_allow_unexpiring: bool = False
    # A widget session untouched this long is not resumed: its token opens a new conversation.
    widget_session_idle_days: float = Field(default=30, gt=0)
    demo_mode: bool = False

    # Telegram: off while there is no bot token. Webhook mode needs a public
    # HTTPS address; polling suits a shop without one.
    telegram_bot_token: SecretStr = SecretStr("")
    telegram_mode: Literal["webhook", "polling"] = "webhook"
    # Telegram echoes it in X-Telegram-Bot-Api-Secret-Token; without it every webhook call is refused.
    telegram_webhook_secret: SecretStr = SecretStr("")
    # When set (webhook mode), the gateway registers this address with Telegram at start-up.
    telegram_webhook_url: str | None = None
    telegram_api_base_url: str = "https://api.telegram.org"
    # For t.me deep links; read from Telegram (getMe) when empty.
    telegram_bot_username: str = ""
    # Signs the deep links that link a website customer's Telegram; links are off without it.
    telegram_link_secret: SecretStr = SecretStr("")
    telegram_link_ttl_seconds: int = Field(default=600, gt=0, le=86_400)

    # SMS (Twilio): on once the account, its auth token, the sending number and
    # the public address are all set; off while none is.
    twilio_account_sid: str = ""
    twilio_auth_token: SecretStr = SecretStr("")
    twilio_from_number: str = ""  # E.164, the shop's Twilio number
    # Tests point the real Twilio client at a local fake of the REST API.
    twilio_api_base_url: str = "https://api.twilio.com"
    # Where the internet reaches this gateway (what Twilio is configured to call):
    # webhook signatures are computed over this address, not the one uvicorn sees.
    public_base_url: str = ""

    # Staff console: signs session cookies and CSRF tokens. In production the
    # console stays closed until it is set; in development an unset one is a
    # random secret per process (sign-ins end at a restart).
    staff_session_secret: SecretStr = SecretStr("")
    staff_session_hours: float = Field(default=12, gt=0, le=24 * 7)
    # Sign-in attempts, per (account, address) and per address (token buckets); a
    # browser or address that signed in to the account before has a bucket of its own.
    rate_limit_sign_in_per_minute: float = Field(default=5, gt=0)
    rate_limit_sign_in_burst: int = Field(default=5, gt=0)
    rate_limit_sign_in_ip_per_minute: float = Field(default=20, gt=0)
    rate_limit_sign_in_ip_burst: int = Field(default=10, gt=0)
    staff_known_address_days: float = Field(default=30, gt=0)
    # How often an open /staff/ws re-checks its session (sign-out, new password, deactivation).
    staff_ws_recheck_seconds: float = Field(default=5, gt=0, le=300)
    # A Telegram chat (group) told about every new handoff; needs TELEGRAM_BOT_TOKEN.
    staff_telegram_chat_id: str = ""
    # The wait a customer is told while there is too little history to measure it.
    handoff_default_wait_minutes: float = Field(default=10, gt=0)
    canned_replies_path: Path = PROJECT_ROOT / "canned_replies.yml"

    # Shop platforms: the secrets their webhooks are signed with; each endpoint
    # refuses everything (401) while its secret is unset.
    shopify_webhook_secret: SecretStr = SecretStr("")
    woocommerce_webhook_secret: SecretStr = SecretStr("")
    # Where customer requests (cancel, new address, return) are POSTed, signed
    # with SHOP_REQUESTS_WEBHOOK_SECRET; unset, they wait in the staff task list only.
    shop_requests_webhook_url: str = ""
    shop_requests_webhook_secret: SecretStr = SecretStr("")
    shop_requests_max_attempts: int = Field(default=8, gt=0, le=50)
    # Order notices (shipped, late, refunded) the gateway sends to customers who opted in.
    notices_enabled: bool = True
    notices_poll_seconds: float = Field(default=5.0, gt=0, le=300)
    notices_max_attempts: int = Field(default=6, gt=0, le=50)

    max_message_chars: int = Field(default=2000, gt=0)
    max_ws_frame_bytes: int = Field(default=16 * 1024, gt=0)
    max_body_bytes: int = Field(default=64 * 1024, gt=0)
    history_limit: int = Field(default=200, gt=0)

    # Token buckets: a sustained rate per minute and a burst on top.
    rate_limit_session_per_minute: float = Field(default=20, gt=0)
    rate_limit_session_burst: int = Field(default=8, gt=0)
    rate_limit_ip_per_minute: float = Field(default=120, gt=0)
    rate_limit_ip_burst: int = Field(default=30, gt=0)
    rate_limit_connect_per_minute: float = Field(default=30, gt=0)
    rate_limit_connect_burst: int = Field(default=10, gt=0)

    # In production /metrics answers loopback clients (not via a proxy) and, when
    # set, anyone sending it as a bearer token (a remote Prometheus).
    metrics_token: SecretStr = SecretStr("")

    log_level: str = "INFO"
    gateway_host: str = "127.0.0.1"
    gateway_port: int = Field(default=8000, ge=0, le=65535)
    # Proxies whose X-Forwarded-For uvicorn believes (per-IP limits need the real client).
    forwarded_allow_ips: str = "127.0.0.1"

    @field_validator("rasa_url", "action_server_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @property
    def rasa_servers(self) -> list[str]:
        """Every Rasa server's base URL, RASA_URL alone unless RASA_URLS lists several."""
        urls = [url.strip().rstrip("/") for url in self.rasa_urls.split(",") if url.strip()]
        return urls or [self.rasa_url]

    @field_validator("redis_url", "telegram_webhook_url")
    @classmethod
    def _empty_is_none(cls, value: str | None) -> str | None:
        return value or None

    @field_validator("telegram_api_base_url")
    @classmethod
    def _api_base(cls, value: str) -> str:
        return value.rstrip("/")

    @field_validator("telegram_bot_username")
    @classmethod
    def _bare_username(cls, value: str) -> str:
        return value.strip().lstrip("@")

    @field_validator("telegram_webhook_secret")
    @classmethod
    def _telegram_secret_shape(cls, value: SecretStr) -> SecretStr:
        # Telegram's own rule for secret_token; anything else setWebhook would reject.
        blank_or_matching(
            value.get_secret_value(),
            r"[A-Za-z0-9_-]{1,256}",
            "TELEGRAM_WEBHOOK_SECRET may only hold A-Z, a-z, 0-9, _ and - (1-256 characters)",
        )
        return value

    @property
    def telegram_enabled(self) -> bool:
        return bool(self.telegram_bot_token.get_secret_value().strip())

    @field_validator("twilio_api_base_url", "public_base_url", "shop_requests_webhook_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if value and not re.match(r"^https?://[^/\s]+", value):
            raise ValueError(f"{value!r} is not an http(s) address")
        return value

    _e164 = stripped_blank_or_matching(
        "twilio_from_number",
        pattern=r"\+[1-9]\d{6,14}",
        problem="TWILIO_FROM_NUMBER must be an E.164 number such as +447700900000",
    )

    @property
    def sms_enabled(self) -> bool:
        return bool(self.twilio_account_sid.strip())

    @model_validator(mode="after")
    def _lease_outlives_a_turn(self) -> GatewaySettings:
        # A live turn mistaken for an abandoned one would be answered twice.
        if self.turn_lease_seconds <= self.rasa_timeout_seconds + 2:
            raise ValueError("TURN_LEASE_SECONDS must be longer than RASA_TIMEOUT_SECONDS + 2")
        return self

    @model_validator(mode="after")
    def _sms_is_whole(self) -> GatewaySettings:
        # Half a Twilio set-up would silently drop every text; say what is missing instead.
        parts = {
            "TWILIO_ACCOUNT_SID": self.twilio_account_sid.strip(),
            "TWILIO_AUTH_TOKEN": self.twilio_auth_token.get_secret_value().strip(),
            "TWILIO_FROM_NUMBER": self.twilio_from_number,
        }
        if not any(parts.values()):
            return self
        parts["PUBLIC_BASE_URL"] = self.public_base_url
        missing = [name for name, value in parts.items() if not value]
        if missing:
            raise ValueError(
                f"SMS is partly configured: set {', '.join(missing)} (or none of the TWILIO_* settings)"
            )
        if self.environment == "production":
            if self.twilio_auth_token.get_secret_value().strip().lower() in _PLACEHOLDERS:
                raise ValueError("TWILIO_AUTH_TOKEN must be set to a real secret in production")
            if not self.public_base_url.startswith("https://"):
                raise ValueError("PUBLIC_BASE_URL must be an https:// address in production")
        return self

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError(f"unknown log level {value!r}")
        return level

    @model_validator(mode="after")
    def _production_is_configured(self) -> GatewaySettings:
        if self.environment != "production":
            return self
        # Secrets this shop makes for itself: 32 random bytes each (Twilio's and
        # Telegram's tokens are issued by them and only checked for placeholders).
        required = ["rasa_token", "widget_identity_secret"]
        optional = ["staff_session_secret", "metrics_token", "telegram_link_secret", "woocommerce_webhook_secret"]
        if self.telegram_enabled and self.telegram_mode == "webhook":
            required.append("telegram_webhook_secret")
        if self.shop_requests_webhook_url:
            required.append("shop_requests_webhook_secret")
        for name in required + [n for n in optional if getattr(self, n).get_secret_value()]:
            secret: SecretStr = getattr(self, name)
            if reason := weakness(secret.get_secret_value()):
                raise ValueError(
                    f"{name.upper()} must be at least 32 random bytes in production, but {reason}. "
                    f"Make one with: {HOW_TO_MAKE_ONE}"
                )
        if self.demo_mode:
            # Demo mode lets any visitor sign in as any demo customer.
            raise ValueError("DEMO_MODE must be off in production")
        return self

    # Each part is read from the flat fields: PREFIX_<name>, else <name>, else as named here.
    @property
    def widget(self) -> WidgetSettings:
        return self._part(WidgetSettings, "widget_", max_frame_bytes=self.max_ws_frame_bytes)

    @property
    def sms(self) -> SmsSettings:
        return self._part(SmsSettings, "twilio_")

    @property
    def telegram(self) -> TelegramSettings:
        return self._part(TelegramSettings, "telegram_", staff_chat_id=self.staff_telegram_chat_id)

    @property
    def staff(self) -> StaffSettings:
        return self._part(StaffSettings, "staff_")

    def _part(self, model: type[P], prefix: str, **named: Any) -> P:
        values = {
            name: getattr(self, prefix + name) if hasattr(self, prefix + name) else getattr(self, name)
            for name in model.model_fields
            if name not in named
        }
        return model(**values, **named)


@lru_cache
def get_settings() -> GatewaySettings:
    return GatewaySettings()
