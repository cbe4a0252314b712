"""The typed parts of a pull-and-clean job: its step payloads and its summary data.

Steps run in parallel on every replica, so no step counts in the data: the plan alone writes what
it selected, and `on_job_end` writes the counts once, from the job's snapshot (`job_assets`), where
each asset's outcome was recorded in the transaction of the step that finished it.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from ferry.jobs import JobData, StepPayload


class BatchStep(StepPayload):
    """Start one batch of --batch-size assets (after the previous one finished, and 2 x --delay)."""

    kind: Literal["batch"] = "batch"
    batch: int = Field(ge=0, description="The batch's number, from 0.")


class PullStep(StepPayload):
    """Pull one asset's README (and LearnPack configuration) from GitHub."""

    kind: Literal["pull"] = "pull"
    asset_id: int = Field(description="The asset's id in the assets table.")


class CleanStep(StepPayload):
    """Clean one asset's pulled README."""

    kind: Literal["clean"] = "clean"
    asset_id: int = Field(description="The asset's id in the assets table.")


AssetStep = Annotated[BatchStep | PullStep | CleanStep, Field(discriminator="kind")]
AnyStep = BatchStep | PullStep | CleanStep


class AssetData(JobData):
    """A pull-and-clean job's summary (its result). Counts are None until the job ends, so a count
    of 0 is stored and shown like any other."""

    # Written by the plan only.
    dry_run: bool = Field(False, description="The job only listed what it would process.")
    found: int | None = Field(None, description="Assets selected by the filters.")
    assets: list[str] | None = Field(None, description="A dry run's selected slugs (the first 1,000).")
    batches: int = Field(0, description="How many batches the selected assets were cut into.")
    batch_size: int | None = Field(None, description="Assets per batch (--batch-size).")
    delay: float | None = Field(None, description="Seconds between two GitHub calls of the job (--delay).")
    # Written once, by on_job_end, from the job's snapshot.
    pulled: int | None = Field(None, description="Assets whose files GitHub sent (changed or new).")
    unchanged: int | None = Field(None, description="Assets whose files all answered 304 (no quota spent).")
    cleaned: int | None = Field(None, description="READMEs cleaned.")
    failed: int | None = Field(None, description="Assets that failed to pull or to clean.")
    skipped: int | None = Field(None, description="Assets skipped (hosted externally, deleted meanwhile).")
    duration_s: float | None = Field(None, description="Seconds from the plan to the end.")
    report: list[str] = Field(default_factory=list, description="The command's output, line by line.")
