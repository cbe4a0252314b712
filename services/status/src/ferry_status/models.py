"""Bodies of the status HTTP API (the command and event contracts themselves live in `ferry.contracts`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg
from pydantic import BaseModel, ConfigDict, Field

from ferry.contracts import JobStatus


class Job(BaseModel):
    """One job as the status service knows it: the latest event's counters and the job's timings."""

    job_id: UUID = Field(description="The job's identity (chosen by whoever published its command).")
    service: str = Field(description="The service running it, e.g. `telemetry-janitor`.")
    command: str = Field(description="The command, e.g. `clear`.")
    status: JobStatus = Field(
        description="pending, running, stalled, completed, failed, cancelled or rejected. `stalled`: running, "
        "but no event (progress or heartbeat) for longer than FERRY_STATUS_STALLED_AFTER_S; not finished, "
        "it goes back to running when the job reports again."
    )
    progress: float | None = Field(description="Percent of `total` processed (0-100); null while total is unknown.")
    total: int | None = Field(description="Items the job will process, when known.")
    processed: int = Field(description="Items done so far (succeeded + failed + skipped).")
    succeeded: int = Field(description="Items done successfully.")
    failed: int = Field(description="Items that failed while the job carried on.")
    skipped: int = Field(description="Items deliberately left alone.")
    message: str = Field(description="The latest human-readable line.")
    error: str | None = Field(description="Why the job failed or was rejected.")
    result: dict[str, Any] | None = Field(description="The final event's `detail.result`: the job's summary.")
    options: dict[str, Any] | None = Field(description="The command's options, when the job was started here.")
    requested_by: str | None = Field(description="Who asked for the job, when it was started here.")
    created_at: datetime = Field(description="When the job was requested or first reported (UTC).")
    started_at: datetime | None = Field(description="When it started running.")
    finished_at: datetime | None = Field(description="When it finished.")
    updated_at: datetime = Field(description="When this row last changed.")
    duration_s: float | None = Field(description="Seconds from start (or request) to finish, or until now if running.")
    last_seq: int = Field(description="Sequence number of the event the counters come from (-1: none yet).")
    last_event_at: datetime | None = Field(description="When the status service last heard from the job.")
    schedule_id: UUID | None = Field(description="The schedule that started the job, if one did.")
    scheduled_time: datetime | None = Field(description="The due time the schedule started it for.")
    is_scheduled: bool = Field(description="Whether a schedule started it (the seed's `is_scheduled`).")

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> Job:
        total, processed = row["total"], row["processed"]
        status = JobStatus(row["status"])
        progress: float | None = None
        if total is not None:
            progress = 100.0 if total == 0 else round(min(100.0, 100.0 * processed / total), 2)
        begun = row["started_at"] or row["created_at"]
        end = row["finished_at"] or (None if status.finished else datetime.now(UTC))
        duration = None if end is None or status == JobStatus.PENDING else round((end - begun).total_seconds(), 3)
        return cls(
            progress=progress, duration_s=duration, is_scheduled=row["schedule_id"] is not None,
            **{k: row[k] for k in _ROW_FIELDS},
        )


_ROW_FIELDS = [name for name in Job.model_fields if name not in {"progress", "duration_s", "is_scheduled"}]


class JobPage(BaseModel):
    """A page of jobs, newest first."""

    items: list[Job] = Field(description="The jobs on this page.")
    total: int = Field(description="Jobs matching the filters, over all pages.")
    limit: int = Field(description="Page size asked for.")
    offset: int = Field(description="Jobs skipped before this page.")


class Stats(BaseModel):
    """How many jobs are in each status, overall and per service."""

    by_status: dict[str, int] = Field(description="Jobs per status.")
    by_service: dict[str, dict[str, int]] = Field(description="Jobs per status, per service.")
    total: int = Field(description="All jobs.")


class StartJob(BaseModel):
    """A request to start a job."""

    model_config = ConfigDict(extra="forbid")

    service: str = Field(description="The service to run it, e.g. `telemetry-janitor`.")
    command: str = Field(description="The command, e.g. `clear`.")
    options: dict[str, Any] = Field(default_factory=dict, description="The command's options (validated).")
    job_id: UUID | None = Field(
        None, description="The job's id; publishing the same id twice runs the job once. An id that already "
        "belongs to a job of another service or command is refused (409)."
    )


class JobAccepted(BaseModel):
    """The job was published; follow it at /jobs/{job_id}."""

    job_id: UUID = Field(description="The job's id.")
    routing_key: str = Field(description="Where the command went on `ferry.commands`.")


class CancelAccepted(BaseModel):
    """The cancel command was published to the job's service."""

    job_id: UUID = Field(description="The job asked to stop.")
    service: str = Field(description="The service that was asked.")


class Readiness(BaseModel):
    """What the service depends on, and whether each is usable."""

    ready: bool = Field(description="True when everything below is ok.")
    checks: dict[str, str] = Field(description="`ok`, or what is wrong, per dependency.")
