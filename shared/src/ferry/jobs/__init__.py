"""The job runtime's public face: what a service's handlers import (see docs/adding-a-service.md)."""

from ferry.jobs.errors import ItemFailed, JobError, JobFailed, RetryLater, StepControl
from ferry.jobs.model import (
    PLAN,
    FinishedJob,
    ItemFailure,
    JobData,
    JobHandler,
    JobSummary,
    Plan,
    Step,
    StepPayload,
    StepResult,
)

__all__ = [
    "PLAN",
    "FinishedJob",
    "ItemFailed",
    "ItemFailure",
    "JobData",
    "JobError",
    "JobFailed",
    "JobHandler",
    "JobSummary",
    "Plan",
    "RetryLater",
    "Step",
    "StepControl",
    "StepPayload",
    "StepResult",
]
