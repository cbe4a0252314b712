"""Options of `telemetry-janitor.clear` (replaces `clear_learnpack_telemetry_queue`)."""

from __future__ import annotations

from enum import StrEnum
from typing import Self

from pydantic import Field, model_validator

from ferry.contracts.base import Options


class WebhookStatus(StrEnum):
    """`--status` values: a LearnPackWebhook status, or ALL."""

    PENDING = "PENDING"
    DONE = "DONE"
    IGNORED = "IGNORED"
    ERROR = "ERROR"
    ALL = "ALL"


class ClearOptions(Options):
    """Delete LearnPackWebhook rows by status, in short keyset batches or one statement."""

    status: WebhookStatus = Field(WebhookStatus.PENDING, description="Status to clear, or ALL.")
    batch_size: int = Field(
        10_000,
        ge=1,
        le=1_000_000,
        description=(
            "Rows per batch to start with; the janitor then sizes batches so that no transaction "
            "holds its locks longer than FERRY_JANITOR_MAX_LOCK_MS."
        ),
    )
    use_cursor: bool = Field(
        False, description="Delete in one statement (fastest, longest locks); falls back to batches if it fails."
    )
    dry_run: bool = Field(False, description="Count what would be deleted; delete nothing.")
    show_summary: bool = Field(False, description="Report the rows per status, even when none match.")
    up_to_id: int | None = Field(
        None,
        ge=0,
        description=(
            "Only rows with id <= this: the CLI pins the rows counted when the user confirmed, "
            "so rows arriving afterwards are not deleted unseen."
        ),
    )


class SeedDemoOptions(Options):
    """Fill the webhook table with realistic rows, for demos and benchmarks (`telemetry-janitor.seed-demo`)."""

    rows: int = Field(100_000, ge=1, le=100_000_000, description="Rows to insert.")
    pending: float = Field(0.5, ge=0, le=1, description="Share of rows with status PENDING.")
    done: float = Field(0.3, ge=0, le=1, description="Share of rows with status DONE.")
    ignored: float = Field(0.1, ge=0, le=1, description="Share of rows with status IGNORED (the rest are ERROR).")
    dry_run: bool = Field(False, description="Report what would be inserted; insert nothing.")

    @model_validator(mode="after")
    def _shares_fit(self) -> Self:
        # Checked here, not only by the service, so the CLI, the dashboard's form and POST /jobs
        # refuse it before anything is published.
        total = self.pending + self.done + self.ignored
        if total > 1 + 1e-9:
            raise ValueError(
                f"the shares --pending ({self.pending:g}), --done ({self.done:g}) and --ignored ({self.ignored:g}) "
                f"must add up to at most 1 (the rest are ERROR); they add up to {total:g}"
            )
        return self
