"""Action server settings: one typed object, read once from the environment (and `.env`)."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from crm.secret_strength import HOW_TO_MAKE_ONE, weakness
from crm.settings import CRMSettings

# Rasa is the only caller: it sends this as a bearer token (endpoints.yml).
MIN_TOKEN_CHARS = 16


class ActionServerSettings(CRMSettings):
    """The action server process's one settings object: the CRM's and the server's own."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    environment: Literal["development", "production"] = "development"
    action_server_token: SecretStr = SecretStr("")
    # Loopback only: the server reads and changes customers' orders for whoever holds the token.
    action_server_host: Literal["127.0.0.1", "::1", "localhost"] = "127.0.0.1"
    action_port: int = Field(default=5055, ge=0, le=65535)

    @model_validator(mode="after")
    def _token(self) -> ActionServerSettings:
        token = self.action_server_token.get_secret_value()
        if len(token) < MIN_TOKEN_CHARS:
            raise ValueError(
                f"ACTION_SERVER_TOKEN must be set ({MIN_TOKEN_CHARS}+ characters): Rasa sends it with "
                "every action call, and the action server refuses calls without it"
            )
        if self.environment == "production" and (reason := weakness(token)):
            raise ValueError(f"ACTION_SERVER_TOKEN is too weak for production: {reason}. Make one with {HOW_TO_MAKE_ONE}")
        return self


@lru_cache
def get_settings() -> ActionServerSettings:
    return ActionServerSettings()
