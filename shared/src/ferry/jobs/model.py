"""What a service implements to run jobs, and what the runtime hands it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar
from uuid import UUID

from ferry.contracts import Contract, Options
from ferry.db import Conn

O = TypeVar("O", bound=Options)  # noqa: E741 - the options type, named like its model

PLAN: dict[str, Any] = {"kind": "plan"}
"""The payload of every job's first step (step 0)."""


class StepMessage(Contract):
    """The body of a work-queue message: which step of which job to run."""

    job_id: UUID
    step_no: int
    attempt: int = 1


@dataclass(frozen=True)
class ItemFailure:
    """One item that failed, reported as an `item_failed` event."""

    message: str
    item: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class StepResult:
    """What one step did; applied to the job in the step's own transaction.

    `total` sets the job's total (None leaves it), `add_total` grows it; `children` are
    payloads of new steps; `data` is merged into the job's summary data.
    """

    succeeded: int = 0
    failed: int = 0
    skipped: int = 0
    total: int | None = None
    add_total: int = 0
    children: list[dict[str, Any]] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    message: str = ""
    failures: list[ItemFailure] = field(default_factory=list)

    @property
    def processed(self) -> int:
        return self.succeeded + self.failed + self.skipped


@dataclass
class Step(Generic[O]):
    """One step of one job, handed to the service inside the step's transaction.

    `conn` is in a transaction that also records the step as done: effects made through
    it commit atomically with the checkpoint. `status` can be set to say what the step
    is waiting for; it shows in heartbeat progress events.
    """

    job_id: UUID
    command: str
    options: O
    step_no: int
    payload: dict[str, Any]
    attempt: int
    data: dict[str, Any]
    total: int | None
    conn: Conn
    status: str = ""

    @property
    def is_plan(self) -> bool:
        return self.step_no == 0


class JobHandler(Protocol[O]):
    """A command's implementation: how to run each step of its jobs.

    A handler holding resources may also define `async def aclose()`: the service calls it at
    shutdown, after its consumers have stopped.
    """

    command: str
    """The command's name, e.g. `clear` (routing key `<service>.<command>`)."""
    options_model: type[O]

    async def run_step(self, step: Step[O]) -> StepResult:
        """Run one step. Step 0 plans the job (count, cut into children)."""
        ...

    def summary_line(self, job: dict[str, Any]) -> str:
        """The closing message of a completed job (counts, in the seed's words)."""
        ...
