"""Settings from the environment (prefix HAITANG_) and an optional .env file."""

from __future__ import annotations

import re
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# A bot token is "<bot id>:<35 url-safe characters>", as BotFather issues it.
TOKEN_PATTERN = re.compile(r"^\d{5,}:[A-Za-z0-9_-]{30,}$")
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///data/haitang.db"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="HAITANG_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    bot_token: SecretStr | None = None
    database_url: str = DEFAULT_DATABASE_URL
    timezone: str = "Asia/Shanghai"
    # Where the bot finds the Bot API; None means Telegram itself.
    api_base_url: str | None = None
    bot_username: str = "HaitangBot"
    invite_ttl_hours: int = Field(default=72, ge=1)
    invite_guess_limit: int = Field(default=5, ge=1)
    invite_guess_window_minutes: int = Field(default=10, ge=1)
    # Response targets for tickets.
    urgent_response_hours: float = Field(default=2, gt=0)
    normal_response_hours: float = Field(default=24, gt=0)
    # Quiet hours (local time): reminders and digests that are not urgent wait until the end.
    # "HH:MM-HH:MM", or "off".
    quiet_hours: str = Field(default="21:00-08:00", pattern=r"^(off|\d{2}:\d{2}-\d{2}:\d{2})$")
    # Tests only: a pause inside each follow-up's transaction, so a test can kill the bot in
    # the middle of a sweep (issue 6). Leave at 0.
    sweep_delay_ms: int = Field(default=0, ge=0)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone: {value}") from exc
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def token_is_valid(self) -> bool:
        token = self.bot_token.get_secret_value() if self.bot_token else ""
        return bool(TOKEN_PATTERN.match(token))

    def sqlite_path(self) -> Path | None:
        """The file behind an SQLite URL, so its folder can be created."""
        prefix = "sqlite+aiosqlite:///"
        if self.database_url.startswith(prefix):
            path = self.database_url[len(prefix) :]
            return Path(path) if path and path != ":memory:" else None
        return None
