"""bot/settings_parts.py: each channel and component is given only its own part of the settings."""

from __future__ import annotations

from bot.settings import GatewaySettings


def settings(**values: object) -> GatewaySettings:
    return GatewaySettings(_env_file=None, **values)  # type: ignore[call-arg]


def test_each_channel_gets_only_its_own_part() -> None:
    made = settings(
        twilio_account_sid="AC123",
        twilio_auth_token="tw-token",
        twilio_from_number="+447700900000",
        public_base_url="https://shop.example/",
        telegram_bot_token="1:abc",
        staff_telegram_chat_id="-100",
        max_ws_frame_bytes=4096,
        staff_session_hours=3,
    )
    assert made.sms.enabled and made.sms.account_sid == "AC123"
    assert made.sms.auth_token.get_secret_value() == "tw-token"
    assert made.sms.public_base_url == "https://shop.example"
    assert made.telegram.enabled and made.telegram.staff_chat_id == "-100"
    assert made.widget.max_frame_bytes == 4096
    assert made.staff.session_hours == 3
    # Only its own: the SMS part knows nothing of Telegram, nor the widget of Twilio.
    assert not any("telegram" in name or "bot_token" in name for name in type(made.sms).model_fields)
    assert not any("twilio" in name or "auth_token" in name for name in type(made.widget).model_fields)
