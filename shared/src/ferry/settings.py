"""Settings shared by every ferry process, read from `FERRY_*` environment variables.

Services subclass `FerrySettings` for their own options (same prefix), so one
environment configures the whole stack. Secrets are `SecretStr`: they print as
`**********` in logs, reprs and errors.
"""

from __future__ import annotations

import sys
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


def _default_log_format() -> Literal["json", "console"]:
    return "console" if sys.stderr.isatty() else "json"


class FerrySettings(BaseSettings):
    """Settings every ferry service and the CLI understand (the Settings table of README.md)."""

    model_config = SettingsConfigDict(env_prefix="FERRY_", extra="ignore", frozen=True)

    amqp_url: SecretStr = Field(
        SecretStr("amqp://guest:guest@localhost:5672/"),
        description="RabbitMQ URL (may carry a password, so it is secret).",
    )
    database_url: SecretStr = Field(
        SecretStr("postgresql://postgres@localhost:5432/ferry"),
        description="Postgres URL of ferry's own database.",
    )
    status_url: str = Field("http://localhost:8000", description="Where the CLI finds the status service.")
    http_port: int = Field(8000, ge=1, le=65535, description="Port this service's HTTP side listens on.")
    http_host: str = Field("0.0.0.0", description="Interface this service's HTTP side binds to.")  # noqa: S104
    api_token: SecretStr | None = Field(
        None, description="Bearer token for mutating status endpoints; unset means they refuse every request."
    )
    github_api_url: str = Field("https://api.github.com", description="GitHub REST API base URL.")
    github_tokens: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list, description="GitHub tokens, comma-separated."
    )
    upstream_max_wait_s: float = Field(
        3600.0, gt=0, le=86400,
        description="The longest wait an upstream's answer (Retry-After, x-ratelimit-reset) can impose; longer "
        "ones are logged and cut to this.",
    )
    peloton_api_url: str = Field("https://api.onepeloton.com", description="Peloton API base URL.")
    log_format: Literal["json", "console"] = Field(
        default_factory=_default_log_format, description="`json` when not a terminal, else `console`."
    )
    log_level: str = Field("INFO", description="Minimum log level.")
    step_concurrency: int = Field(
        4, ge=1, le=256, description="Steps one replica works on at once (the work queue's prefetch)."
    )

    # How jobs survive failures (docs/jobs.md, "When things go wrong").
    step_timeout_s: float = Field(
        600, gt=0, description="A step running longer is stopped and parked (retried later), never held."
    )
    outage_wait_s: float = Field(
        60, gt=0, description="How long a delivery waits out a Postgres/RabbitMQ outage before it is parked."
    )
    command_ttl_s: float = Field(
        3600, gt=0, description="A command older than this when it arrives is rejected as expired."
    )
    max_park_attempts: int = Field(
        100, ge=1, description="A step parked (RetryLater) more often than this fails its job."
    )
    max_park_s: float = Field(
        6 * 3600, gt=0, description="A step parked for longer than this in total fails its job."
    )
    delivery_wedged_after_s: float = Field(
        900, gt=0, description="/readyz fails while any delivery has been held unsettled for longer."
    )

    @field_validator("github_tokens", mode="before")
    @classmethod
    def _split_tokens(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    def secret_values(self) -> list[str]:
        """Every secret string this configuration holds, for log redaction."""
        secrets = [t.get_secret_value() for t in self.github_tokens]
        if self.api_token is not None:
            secrets.append(self.api_token.get_secret_value())
        for url in (self.amqp_url, self.database_url):
            password = _url_password(url.get_secret_value())
            if password:
                secrets.append(password)
        return [s for s in secrets if len(s) >= 4]


def _url_password(url: str) -> str | None:
    from urllib.parse import urlsplit

    try:
        return urlsplit(url).password
    except ValueError:
        return None


def valid_webhook_url(url: str) -> bool:
    """An absolute http(s) URL with a host (checked without ever echoing it): a webhook the status
    service may POST to, the same rule for its settings, its API and `ferry schedules add`."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in {"http", "https"} and bool(parts.hostname)
