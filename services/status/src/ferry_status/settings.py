"""The status service's own settings (same `FERRY_` prefix as everything else)."""

from __future__ import annotations

from pydantic import Field

from ferry.settings import FerrySettings


class StatusSettings(FerrySettings):
    """`FerrySettings` plus how the event ingester batches its writes."""

    status_ingest_batch: int = Field(
        10_000, ge=1, le=50_000,
        description="Most events written to Postgres in one transaction (batches grow up to it under load).",
    )
    status_ingest_wait_ms: float = Field(
        200.0, ge=0, le=5_000,
        description="How long a batch may wait to fill before it is written (the most an event's row lags).",
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

    @property
    def job_retention_days(self) -> int:
        return max(self.status_retention_days, self.status_job_retention_days or self.status_retention_days)
