"""What a service implements to run jobs, and what the runtime hands it.

A command's implementation is a `JobHandler` with three typed parts: its options (the command's
contract), its step payloads (frozen models, a union discriminated by `kind` when a job has
several kinds of step) and its summary data. The runtime validates each before calling the
handler, so a handler never re-parses a dict:

    plan(step)        step 0: count the work, cut it into child steps
    run_step(step)    every other step: do one piece, maybe add children
    on_job_end(job)   once, when the job ends (completed, failed, cancelled): the summary

See docs/jobs.md for the job model and docs/adding-a-service.md for the recipe.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Generic, Literal, TypeVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from ferry.contracts import Contract, JobStatus, Options
from ferry.db import Conn


class StepPayload(Contract):
    """The payload of one step: frozen; `kind` names the step's kind."""

    kind: str


class Plan(StepPayload):
    """The payload of every job's first step (step 0)."""

    kind: Literal["plan"] = "plan"


PLAN = Plan()


class JobData(BaseModel):
    """A job's summary data (what its steps found so far). Every field needs a default.

    Unknown fields are ignored, so a job recorded by a newer version still loads.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")


O = TypeVar("O", bound=Options)  # noqa: E741 - the options type, named like its model
P = TypeVar("P", bound=StepPayload)
D = TypeVar("D", bound=JobData)


class StepMessage(Contract):
    """The body of a work-queue message: which step of which job to run."""

    job_id: UUID = Field(description="The job the step belongs to.")
    step_no: int = Field(description="The step's number within its job (0 is the plan).")
    attempt: int = Field(1, description="How often the step was parked and sent back, plus one.")
    parked_since: datetime | None = Field(None, description="When the step was first parked.")
    outages: int = Field(0, description="How often an infrastructure outage parked the step.")


@dataclass(frozen=True)
class ItemFailure:
    """One item that failed, reported as an `item_failed` event."""

    message: str
    item: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class StepResult(Generic[P, D]):
    """What one step did; applied to the job in the step's own transaction.

    `total` sets the job's total (None leaves it), `add_total` grows it; `children` are the
    payloads of new steps; `data`, when given, replaces the job's summary data.
    """

    succeeded: int = 0
    failed: int = 0
    skipped: int = 0
    total: int | None = None
    add_total: int = 0
    children: list[P] = field(default_factory=list)
    data: D | None = None
    message: str = ""
    failures: list[ItemFailure] = field(default_factory=list)

    @property
    def processed(self) -> int:
        return self.succeeded + self.failed + self.skipped


@dataclass
class Step(Generic[O, P, D]):
    """One step of one job, handed to the handler inside the step's transaction.

    `conn` is in a transaction that also records the step as done: effects made through it
    commit atomically with the checkpoint. Setting `status` says what the step is waiting for;
    it shows in heartbeat progress events.
    """

    job_id: UUID
    command: str
    options: O
    step_no: int
    payload: P
    attempt: int
    data: D
    total: int | None
    conn: Conn
    status: str = ""

    @property
    def is_plan(self) -> bool:
        return self.step_no == 0


@dataclass(frozen=True)
class FinishedJob(Generic[O, D]):
    """A job that has just ended, handed to `on_job_end` inside the transaction that ends it."""

    job_id: UUID
    command: str
    state: JobStatus
    options: O | None
    """None when the stored options no longer validate (the job fails for that reason)."""
    data: D
    total: int | None
    processed: int
    succeeded: int
    failed: int
    skipped: int
    error: str | None
    conn: Conn


@dataclass(frozen=True)
class JobSummary(Generic[D]):
    """A finished job's closing words: its last event's message, final data and extra failures."""

    message: str
    data: D | None = None
    failures: list[ItemFailure] = field(default_factory=list)


class JobHandler(ABC, Generic[O, P, D]):
    """A command's implementation. Subclasses set the four class attributes and two methods."""

    command: ClassVar[str]
    """The command's name, e.g. `clear` (routing key `<service>.<command>`)."""
    options_model: ClassVar[type[Options]]
    step_model: ClassVar[Any]
    """The payload model of the steps after the plan, or a union of them discriminated by `kind`."""
    data_model: ClassVar[type[JobData]] = JobData

    @abstractmethod
    async def plan(self, step: Step[O, Plan, D]) -> StepResult[P, D]:
        """Step 0: count the work and cut it into child steps."""

    @abstractmethod
    async def run_step(self, step: Step[O, P, D]) -> StepResult[P, D]:
        """Run one step after the plan."""

    async def on_job_end(self, job: FinishedJob[O, D]) -> JobSummary[D]:
        """The closing message of a job (counts, in the words of the command it replaces)."""
        done = f"{job.succeeded} succeeded, {job.failed} failed, {job.skipped} skipped"
        return JobSummary(message=f"{job.state}: {done}" if job.error is None else f"{job.state}: {job.error}")
