"""`asset-sync.pull-and-clean` on the job runtime: a thin adapter from the runtime's step to the
plain steps of `steps.py` (which hold all the logic and can be called without a broker).

Rate-limit waits longer than FERRY_ASSET_SYNC_MAX_INLINE_WAIT_S park the step (RetryLater) rather
than hold a delivery; a missing assets table fails the job.
"""

from __future__ import annotations

from typing import Any

import asyncpg
from pydantic import ConfigDict

from ferry.contracts import JobStatus
from ferry.contracts.asset_sync import PullAndCleanOptions
from ferry.github import RateLimitWaitTooLong
from ferry.jobs import (
    FinishedJob,
    ItemFailure,
    JobData,
    JobFailed,
    JobHandler,
    JobSummary,
    Plan,
    RetryLater,
    Step,
    StepPayload,
    StepResult,
)
from ferry.ratelimit import WaitTooLong
from ferry_asset_sync.errors import TableNotFound
from ferry_asset_sync.resources import Resources
from ferry_asset_sync.settings import AssetSyncSettings
from ferry_asset_sync.steps import AssetSync, Outcome, summary_line


class AssetStep(StepPayload):
    """A batch, pull or clean step (its fields are steps.py's; to be typed one by one)."""

    model_config = ConfigDict(frozen=True, extra="allow")


class AssetData(JobData):
    """The job's summary data (steps.py's fields; to be typed one by one)."""

    model_config = ConfigDict(frozen=True, extra="allow")


def _result(outcome: Outcome, before: AssetData) -> StepResult[AssetStep, AssetData]:
    return StepResult(
        succeeded=outcome.succeeded, failed=outcome.failed, skipped=outcome.skipped, total=outcome.total,
        children=[AssetStep.model_validate(c) for c in outcome.children],
        data=AssetData.model_validate({**before.model_dump(), **outcome.data}), message=outcome.message,
        failures=[ItemFailure(message, item=slug) for slug, message in outcome.failures],
    )


class PullAndCleanJob(JobHandler[PullAndCleanOptions, AssetStep, AssetData]):
    """`asset-sync.pull-and-clean`: pull assets' READMEs from GitHub and clean them."""

    command = "pull-and-clean"
    options_model = PullAndCleanOptions
    step_model = AssetStep
    data_model = AssetData

    def __init__(self, settings: AssetSyncSettings, pool: asyncpg.Pool, resources: Resources) -> None:
        self.resources = resources
        self.steps = AssetSync(settings, pool, resources)

    async def plan(self, step: Step[PullAndCleanOptions, Plan, AssetData]) -> StepResult[AssetStep, AssetData]:
        return await self.run_step(step)  # type: ignore[arg-type]  # _run tells the plan by its step number

    async def run_step(self, step: Step[PullAndCleanOptions, AssetStep, AssetData]) -> StepResult[AssetStep, AssetData]:
        try:
            return _result(await self._run(step), step.data)
        except TableNotFound as exc:
            raise JobFailed(str(exc)) from exc
        except RateLimitWaitTooLong as exc:
            raise RetryLater(exc.wait_s, f"GitHub rate limit on {exc.key}") from exc
        except WaitTooLong as exc:
            raise RetryLater(exc.wait_s, f"rate limit on {exc.key}") from exc

    async def _run(self, step: Step[PullAndCleanOptions, AssetStep, AssetData]) -> Outcome:
        conn, job_id, options = step.conn, step.job_id, step.options
        if step.is_plan:
            return await self.steps.plan(conn, job_id, options)
        payload: dict[str, Any] = step.payload.model_dump()
        data: dict[str, Any] = step.data.model_dump()
        kind = payload.get("kind")
        if kind == "batch":
            step.status = f"waiting to start batch {int(payload['batch']) + 1}"
            return await self.steps.batch(conn, job_id, options, int(payload["batch"]), int(data.get("batches", 1)))
        if kind == "pull":
            step.status = f"pulling asset {payload['asset_id']}"
            return await self.steps.pull(conn, job_id, options, int(payload["asset_id"]))
        if kind == "clean":
            return await self.steps.clean(conn, job_id, int(payload["asset_id"]))
        raise JobFailed(f"unknown pull-and-clean step {payload!r}")

    async def on_job_end(self, job: FinishedJob[PullAndCleanOptions, AssetData]) -> JobSummary[AssetData]:
        if job.state is not JobStatus.COMPLETED:
            return await super().on_job_end(job)
        return JobSummary(summary_line(job.data.model_dump()))
