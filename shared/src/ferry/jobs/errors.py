"""What a step can raise. Control flow (`StepControl`) is kept apart from failures (`JobError`).

    StepControl            not a failure: the runtime changes course
     └── RetryLater        park this step for `seconds`, then run it again
    JobError               a real failure
     ├── ItemFailed        this step's item failed: count it, report it, carry on
     └── JobFailed         the job cannot go on: fail it and drop its other steps

Any other exception is unexpected: the step is retried (redelivered) a few times and
then counted as a failed item, so one bad item never stops a job. Infrastructure
outages (Postgres or RabbitMQ unreachable) are waited out, not counted.
"""

from __future__ import annotations

from typing import Any


class StepControl(Exception):
    """Base of control-flow signals a step handler may raise."""


class RetryLater(StepControl):
    """Run this step again after `seconds` (e.g. a rate-limit pause); its effects are rolled back."""

    def __init__(self, seconds: float, reason: str) -> None:
        super().__init__(f"retry in {seconds:.1f}s: {reason}")
        self.seconds = max(0.0, seconds)
        self.reason = reason


class JobError(Exception):
    """Base of real failures raised by step handlers."""


class ItemFailed(JobError):
    """This step's item failed for good (no retry): counted as failed, the job carries on."""

    def __init__(self, message: str, *, item: str | None = None, detail: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.item = item
        self.detail = detail or {}


class JobFailed(JobError):
    """The job cannot continue (bad configuration, missing table, no credentials)."""
