"""Settings: the one place configuration is read (environment variables and `.env`)."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.engine.limits import Rate
from bot.engine.quota import Limits
from storage import DatabaseLocation, parse_location
from storage.errors import UnsupportedDatabase

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]
LogFormat = Literal["text", "json"]

# A placeholder key for local servers (Ollama, vLLM, LM Studio) that ignore it; the SDK needs one.
LOCAL_API_KEY = "sessionbot-local"

# Discord's REST API; DISCORD_API_BASE points the bot at a proxy or a compatible server instead.
DISCORD_API_BASE = "https://discord.com/api/v10"

# What to do when Discord refuses the token or the Message Content intent (`run` and `doctor`).
LOGIN_REFUSED_ADVICE = (
    "copy the token again from the Bot page of your application "
    "(https://discord.com/developers/applications)"
)
MESSAGE_CONTENT_ADVICE = "turn on 'Message Content Intent' on the Bot page of your application"

# The HTTP API's port when `sessionbot serve` is given none (`sessionbot run` serves no API
# unless SESSIONBOT_API_PORT is set), and the shortest bearer token it accepts.
DEFAULT_API_PORT = 8080
MIN_API_TOKEN_LENGTH = 16


class ConfigError(Exception):
    """Configuration is missing or invalid; str() is one line that says what to set."""


class Settings(BaseSettings):
    """Everything sessionbot reads from the environment. Construct directly in tests."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        env_prefix="SESSIONBOT_",
        validate_by_name=True,
        hide_input_in_errors=True,
    )

    openai_base_url: str | None = Field(default=None, validation_alias="OPENAI_BASE_URL")
    openai_api_key: SecretStr | None = Field(default=None, validation_alias="OPENAI_API_KEY")
    model: str | None = Field(default=None, min_length=1)
    database: str = Field(default="sessionbot.db", min_length=1)
    personas: Path = Field(default=Path("personas"))
    default_persona: str = Field(default="sara", min_length=1)
    discord_token: SecretStr | None = Field(default=None, validation_alias="DISCORD_TOKEN")
    discord_api_base: str = Field(default=DISCORD_API_BASE, validation_alias="DISCORD_API_BASE")
    discord_gateway_url: str | None = Field(default=None, validation_alias="DISCORD_GATEWAY_URL")
    allow_dms: bool = True
    webhooks: bool = True  # personas post through channel webhooks, with their name and avatar
    regenerate_on_edit: bool = True  # editing the message a reply answers regenerates it
    dev_guild: int | None = Field(default=None, gt=0)
    shard_count: int | None = Field(default=None, ge=1, le=4096)
    shards: Annotated[tuple[int, ...] | None, NoDecode] = None  # ids this process runs
    llm_timeout: float = Field(default=60.0, gt=0)
    llm_retries: int = Field(default=3, ge=0, le=10)
    log_level: LogLevel = "INFO"
    log_format: LogFormat = "text"
    metrics_token: SecretStr | None = None
    api_host: str = Field(default="127.0.0.1", min_length=1)
    api_port: int | None = Field(default=None, ge=0, le=65535)
    api_token: SecretStr | None = None
    api_max_body: int = Field(default=1_048_576, ge=1024, le=104_857_600)
    catchup_messages: int = Field(default=50, ge=0, le=100)
    catchup_max_age: float = Field(default=3600.0, ge=0)
    shutdown_grace: float = Field(default=10.0, ge=0, le=600)
    max_replies: int = Field(default=256, ge=1, le=100_000)
    user_rate_limit: Annotated[Rate, NoDecode] = Rate(count=20, seconds=60.0)
    guild_rate_limit: Annotated[Rate, NoDecode] = Rate(count=120, seconds=60.0)
    guild_daily_tokens: int | None = Field(default=None, ge=1)

    @field_validator("openai_base_url")
    @classmethod
    def _check_base_url(cls, value: str | None) -> str | None:
        url = _url(value, ("http://", "https://"))
        return None if url is None else url.rstrip("/")

    @field_validator("discord_api_base")
    @classmethod
    def _check_api_base(cls, value: str) -> str:
        url = _url(value.rstrip("/ \t"), ("http://", "https://"))
        return DISCORD_API_BASE if url is None else url

    @field_validator("discord_gateway_url")
    @classmethod
    def _check_gateway_url(cls, value: str | None) -> str | None:
        return _url(value, ("ws://", "wss://"))

    @field_validator("database", mode="before")
    @classmethod
    def _check_database(cls, value: object) -> object:
        """A path or sqlite:///path (SQLite) or a postgresql:// URL; any other scheme is refused."""
        text = os.fspath(value) if isinstance(value, os.PathLike) else value
        if isinstance(text, str):
            try:
                parse_location(text)
            except UnsupportedDatabase as exc:
                raise ValueError(str(exc)) from None
        return text

    def database_location(self) -> DatabaseLocation:
        """SESSIONBOT_DATABASE parsed; str() of it hides a URL's password."""
        return parse_location(self.database)

    @field_validator("api_port", "dev_guild", "shard_count", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("user_rate_limit", "guild_rate_limit", mode="before")
    @classmethod
    def _parse_rate(cls, value: object) -> object:
        return Rate.parse(value) if isinstance(value, str) else value

    @field_validator("guild_daily_tokens", mode="before")
    @classmethod
    def _parse_budget(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        text = value.strip().replace("_", "")
        if not text:
            return None
        if not text.isdigit() or int(text) < 1:
            raise ValueError(
                f"{value!r} is not a token count; write a whole number >= 1, e.g. 200000 "
                "(leave it unset for no limit)"
            )
        return int(text)

    @field_validator("shards", mode="before")
    @classmethod
    def _parse_shards(cls, value: object, info: ValidationInfo) -> object:
        """`0,1`: shard ids below SESSIONBOT_SHARD_COUNT, which must be set too."""
        if not isinstance(value, str):
            return value
        if not value.strip():
            return None
        count = info.data.get("shard_count")
        if count is None:
            raise ValueError("needs SESSIONBOT_SHARD_COUNT too (the total number of shards)")
        ids = [part.strip() for part in value.split(",")]
        if not all(part.isdigit() for part in ids):
            raise ValueError(f"{value!r} is not a list of shard ids; write e.g. 0,1")
        numbers = [int(part) for part in ids]
        if len(set(numbers)) != len(numbers) or max(numbers) >= count:
            raise ValueError(
                f"{value!r}: each shard id once, each below SESSIONBOT_SHARD_COUNT ({count})"
            )
        return tuple(sorted(numbers))

    def shard_ids(self) -> list[int] | None:
        """The shards this process runs (all of them by default); None when not sharded."""
        if self.shard_count is None:
            return None
        return list(self.shards) if self.shards is not None else list(range(self.shard_count))

    def quota_limits(self) -> Limits:
        """The abuse limits the Discord bot applies (see README, Reliability)."""
        return Limits(
            person=self.user_rate_limit,
            server=self.guild_rate_limit,
            daily_tokens=self.guild_daily_tokens,
        )

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("log_format", mode="before")
    @classmethod
    def _lower_format(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    def metrics_secret(self) -> str | None:
        """The token `/metrics` asks for; None leaves it open (like `/healthz`)."""
        return _secret(self.metrics_token) or None

    def secrets(self) -> list[str]:
        """Every secret setting that is set, so that logs can blank them out."""
        values = (self.openai_api_key, self.discord_token, self.api_token, self.metrics_token)
        return [text for text in map(_secret, values) if text]

    def api_key(self) -> str:
        """The key to send: the configured one, or a placeholder for a local server."""
        key = _secret(self.openai_api_key)
        if key:
            return key
        if self.openai_base_url is None:
            raise ConfigError(
                "OPENAI_API_KEY is not set; set it, or set OPENAI_BASE_URL to a local "
                "OpenAI-compatible server (Ollama, vLLM, LM Studio) that needs no key."
            )
        return LOCAL_API_KEY

    def discord_secret(self) -> str:
        """The bot token; only `sessionbot run` needs it."""
        token = _secret(self.discord_token)
        if not token:
            raise ConfigError(
                "DISCORD_TOKEN is not set; copy the bot token from your application's Bot page "
                "at https://discord.com/developers/applications (see README.md, Discord set-up)."
            )
        return token

    def chat_model(self) -> str:
        """The default model name; only commands that talk to a model need it."""
        if self.model is None:
            raise ConfigError(
                "SESSIONBOT_MODEL is not set; set it to the model your server serves "
                "(e.g. gpt-4o-mini, or llama3.2 on Ollama)."
            )
        return self.model

    def api_secret(self) -> str:
        """The HTTP API's bearer token; the API refuses to start without a good one."""
        token = _secret(self.api_token)
        if not token:
            raise ConfigError(
                "SESSIONBOT_API_TOKEN is not set; the HTTP API needs a secret token to start "
                "(e.g. python3 -c 'import secrets; print(secrets.token_urlsafe(32))')."
            )
        if len(token) < MIN_API_TOKEN_LENGTH:
            raise ConfigError(
                f"SESSIONBOT_API_TOKEN is too short; use at least {MIN_API_TOKEN_LENGTH} "
                "characters (e.g. python3 -c 'import secrets; print(secrets.token_urlsafe(32))')."
            )
        return token

    @property
    def log_level_number(self) -> int:
        return logging.getLevelNamesMapping()[self.log_level]


def _url(value: str | None, schemes: tuple[str, ...]) -> str | None:
    """A URL setting, stripped; None when blank; ValueError when its scheme is not allowed."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if not value.startswith(schemes):
        raise ValueError(f"must start with {' or '.join(schemes)}")
    return value


def _secret(value: SecretStr | None) -> str:
    """A secret setting's text, stripped; '' when unset."""
    return value.get_secret_value().strip() if value is not None else ""


def env_name(field: str) -> str:
    """The environment variable that sets a Settings field (errors name fields either way)."""
    info = Settings.model_fields.get(field)
    if info is not None and isinstance(info.validation_alias, str):
        return info.validation_alias
    if field.isupper():
        return field
    return "SESSIONBOT_" + field.upper()


def load_settings(**overrides: Any) -> Settings:
    """Build Settings from the environment, or raise ConfigError with one readable line."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None
    except UnicodeDecodeError:
        raise ConfigError(".env is not UTF-8 text; save it as UTF-8") from None
    except OSError as exc:
        raise ConfigError(f".env cannot be read: {exc.strerror or exc}") from None


def _describe(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else "settings"
        name = env_name(field)
        if error["type"] == "missing":
            problems.append(f"{name} is not set")
        else:
            reason = str(error["msg"]).removeprefix("Value error, ")
            problems.append(f"{name}: {reason[:1].lower()}{reason[1:]}")
    hint = " (see the configuration table in README.md)"
    return "; ".join(problems) + hint
