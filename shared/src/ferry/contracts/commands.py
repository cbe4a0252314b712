"""Command envelopes, published to `ferry.commands` with routing key `<service>.<command>`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Generic, Literal, TypeVar
from uuid import UUID, uuid4

from pydantic import Field

from ferry.contracts.base import Contract, Options

O = TypeVar("O", bound=Options)  # noqa: E741 - the options type, named like its model


def _now() -> datetime:
    return datetime.now(UTC)


class Command(Contract, Generic[O]):
    """A request to run one job. Publishing the same `job_id` twice runs the job once."""

    v: Literal[1] = Field(1, description="Envelope version.")
    job_id: UUID = Field(default_factory=uuid4, description="Chosen by the publisher; the job's identity.")
    requested_by: str = Field(
        "unknown", max_length=200, description="Who asked: a user, `cli:<user>`, `api`, `cronjob:<name>`."
    )
    requested_at: datetime = Field(default_factory=_now, description="When the request was made (UTC).")
    options: O = Field(description="The command's own options.")


class CancelCommand(Contract):
    """Ask a service to stop a job between items (routing key `<service>.cancel`)."""

    v: Literal[1] = Field(1, description="Envelope version.")
    job_id: UUID = Field(description="The job to stop.")
    requested_by: str = Field("unknown", max_length=200, description="Who asked.")
    requested_at: datetime = Field(default_factory=_now, description="When the request was made (UTC).")


CANCEL = "cancel"
"""The command name every service understands: `<service>.cancel`."""
