"""Job events, published to `ferry.events` with routing key `<service>.job.<type>`."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal
from uuid import UUID, uuid4

from pydantic import Field

from ferry.contracts.base import Contract


class EventType(StrEnum):
    """What happened to a job."""

    ACCEPTED = "accepted"
    STARTED = "started"
    PROGRESS = "progress"
    ITEM_FAILED = "item_failed"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    REJECTED = "rejected"


class JobStatus(StrEnum):
    """A job's status as the status service shows it.

    `stalled` is the status service's own verdict, not an event: a running job that has reported
    nothing (no progress, no heartbeat) for longer than the service's bound. It is not finished: the
    job's next event puts it back to running (or finishes it).
    """

    PENDING = "pending"
    RUNNING = "running"
    STALLED = "stalled"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    REJECTED = "rejected"

    @property
    def finished(self) -> bool:
        return self in FINISHED_STATUSES


FINISHED_STATUSES = frozenset(
    {JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.REJECTED}
)

STATUS_AFTER: dict[EventType, JobStatus] = {
    EventType.ACCEPTED: JobStatus.PENDING,
    EventType.STARTED: JobStatus.RUNNING,
    EventType.PROGRESS: JobStatus.RUNNING,
    EventType.ITEM_FAILED: JobStatus.RUNNING,
    EventType.COMPLETED: JobStatus.COMPLETED,
    EventType.FAILED: JobStatus.FAILED,
    EventType.CANCELLED: JobStatus.CANCELLED,
    EventType.REJECTED: JobStatus.REJECTED,
}
"""The status a job is in after an event of each type."""


class Counters(Contract):
    """A job's counters; `total` is unknown (None) until the job has counted its items."""

    total: int | None = Field(None, ge=0, description="Items the job will process, when known.")
    processed: int = Field(0, ge=0, description="Items done so far (succeeded + failed + skipped).")
    succeeded: int = Field(0, ge=0, description="Items done successfully.")
    failed: int = Field(0, ge=0, description="Items that failed (the job carried on).")
    skipped: int = Field(0, ge=0, description="Items deliberately left alone (filtered, already done).")


class JobEvent(Counters):
    """Something that happened to a job, with its counters at that moment."""

    v: Literal[1] = Field(1, description="Event version.")
    event_id: UUID = Field(default_factory=uuid4, description="Unique id; storage is idempotent by it.")
    job_id: UUID = Field(description="The job this event is about.")
    service: str = Field(description="The service running the job, e.g. `telemetry-janitor`.")
    command: str = Field(description="The command, e.g. `clear`.")
    type: EventType = Field(description="What happened.")
    seq: int = Field(ge=0, description="Order of this event within its job (increasing).")
    at: datetime = Field(default_factory=lambda: datetime.now(UTC), description="When it happened (UTC).")
    message: str = Field("", max_length=2000, description="A short human-readable line.")
    detail: dict[str, Any] = Field(default_factory=dict, description="Structured extras (summary, error, item).")

    @property
    def routing_key(self) -> str:
        return f"{self.service}.job.{self.type.value}"
