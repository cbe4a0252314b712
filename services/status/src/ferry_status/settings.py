"""The status service's own settings (same `FERRY_` prefix as everything else)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from ferry.settings import FerrySettings, valid_webhook_url

FinishedStatus = Literal["completed", "failed", "cancelled", "rejected"]


class StatusSettings(FerrySettings):
    """`FerrySettings` plus the status service's own: ingest batching, schedules, retention, notifications."""

    # A refused value is not echoed in the error: FERRY_STATUS_NOTIFY_URL is a secret.
    model_config = SettingsConfigDict(**FerrySettings.model_config, hide_input_in_errors=True)

    status_ingest_batch: int = Field(
        10_000, ge=1, le=50_000,
        description="Most events written to Postgres in one transaction (batches grow up to it under load).",
    )
    status_ingest_wait_ms: float = Field(
        200.0, ge=0, le=5_000,
        description="How long a batch may wait to fill before it is written (the most an event's row lags "
        "while ingest keeps up; behind a backlog, batches fill up to the batch size).",
    )
    status_ingest_prefetch: int = Field(
        20_000, ge=1, le=65_535,
        description="Unacknowledged events RabbitMQ may hand the ingester at once (keep it above twice the batch).",
    )
    status_stalled_after_s: float = Field(
        900.0, gt=0, le=7 * 86_400,
        description="A running job that sends no event (progress, heartbeat) for this long is shown as "
        "`stalled` until it reports again. Keep it above the longest step parking time (600 s).",
    )
    status_scheduler_tick_s: float = Field(
        1.0, gt=0, le=60, description="How often each replica looks for due schedules (the most a run starts late).",
    )
    status_schedule_grace_s: float = Field(
        60.0, gt=0, le=86_400,
        description="A due time older than this when a replica first sees it was missed (every replica down): "
        "fired once or skipped by the schedule's `catch_up`.",
    )
    status_retention_days: int = Field(
        90, ge=1, le=36_500,
        description="Events of jobs finished longer ago than this are deleted (daily, in batches).",
    )
    status_job_retention_days: int | None = Field(
        None, ge=1, le=36_500,
        description="Finished jobs' summary rows are deleted after this many days (default: with their events; "
        "set it higher to keep summaries longer).",
    )
    status_retention_batch: int = Field(
        5_000, ge=1, le=100_000, description="Most rows one retention transaction deletes.",
    )

    status_notify_url: SecretStr | None = Field(
        None, description="Webhook (Slack-compatible) POSTed when a job finishes; a secret, never logged or shown. "
        "Unset: only schedules with their own URL notify.",
    )
    status_notify_on: Annotated[list[FinishedStatus], NoDecode] = Field(
        default_factory=lambda: list[FinishedStatus](["completed", "failed"]),
        description="Comma-separated finished statuses that notify, for jobs whose schedule does not say "
        "(completed, failed, cancelled, rejected; empty: none).",
    )
    status_notify_services: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Comma-separated services whose jobs notify (empty: every service).",
    )
    status_public_url: str | None = Field(
        None, description="The status service's address as people reach it, for the link in notifications "
        "(default: FERRY_STATUS_URL).",
    )
    status_notify_tick_s: float = Field(
        1.0, gt=0, le=60, description="How often each replica looks for notifications to send.",
    )
    status_notify_timeout_s: float = Field(
        10.0, gt=0, le=120, description="Longest one webhook POST may take before it counts as failed.",
    )
    status_notify_backoff_s: float = Field(
        2.0, gt=0, le=3_600, description="Wait before the first retry of a failed POST; doubles each time.",
    )
    status_notify_backoff_max_s: float = Field(
        600.0, gt=0, le=86_400, description="Longest wait between two attempts of one notification.",
    )
    status_notify_max_attempts: int = Field(
        12, ge=1, le=1_000, description="Attempts after which a notification is given up (logged, kept).",
    )

    @field_validator("status_notify_url")
    @classmethod
    def _webhook_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not valid_webhook_url(value.get_secret_value()):
            raise ValueError("not an absolute http(s) URL with a host")
        return value

    @field_validator("status_notify_on", "status_notify_services", mode="before")
    @classmethod
    def _comma_list(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    def secret_values(self) -> list[str]:
        """The shared secrets and the webhook URL (its path too: some lines show only the path)."""
        secrets = super().secret_values()
        if self.status_notify_url is not None:
            secrets += webhook_secrets(self.status_notify_url.get_secret_value())
        return secrets

    @property
    def job_retention_days(self) -> int:
        return max(self.status_retention_days, self.status_job_retention_days or self.status_retention_days)


def webhook_secrets(url: str) -> list[str]:
    """The parts of a webhook URL that must never be shown: all of it, and its path and query."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    hidden = [url, parts.path + (f"?{parts.query}" if parts.query else "")]
    return [s for s in hidden if len(s) >= 4]
