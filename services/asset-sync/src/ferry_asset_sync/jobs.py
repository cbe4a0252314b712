"""`asset-sync.pull-and-clean` on the job runtime: a thin adapter from the runtime's step to the
plain steps of `steps.py` (which hold all the logic and can be called without a broker).

Rate-limit waits longer than FERRY_ASSET_SYNC_MAX_INLINE_WAIT_S park the step (RetryLater) rather
than hold a delivery; a missing assets table fails the job.
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any

import asyncpg

from ferry.contracts import JobStatus
from ferry.contracts.asset_sync import PullAndCleanOptions
from ferry.github import RateLimitWaitTooLong
from ferry.jobs import (
    FinishedJob,
    ItemFailure,
    JobFailed,
    JobHandler,
    JobSummary,
    Plan,
    RetryLater,
    Step,
    StepResult,
)
from ferry.ratelimit import WaitTooLong
from ferry_asset_sync.errors import TableNotFound
from ferry_asset_sync.models import AnyStep, AssetData, AssetStep, BatchStep, PullStep
from ferry_asset_sync.resources import Resources
from ferry_asset_sync.settings import AssetSyncSettings
from ferry_asset_sync.steps import AssetSync, Outcome, summary_line

Result = StepResult[AnyStep, AssetData]


def _result(outcome: Outcome) -> Result:
    return StepResult(
        succeeded=outcome.succeeded, failed=outcome.failed, skipped=outcome.skipped, total=outcome.total,
        children=outcome.children, data=outcome.data, message=outcome.message,
        failures=[ItemFailure(message, item=slug) for slug, message in outcome.failures],
    )


class PullAndCleanJob(JobHandler[PullAndCleanOptions, AnyStep, AssetData]):
    """`asset-sync.pull-and-clean`: pull assets' READMEs from GitHub and clean them."""

    command = "pull-and-clean"
    options_model = PullAndCleanOptions
    step_model = AssetStep
    data_model = AssetData

    def __init__(self, settings: AssetSyncSettings, pool: asyncpg.Pool, resources: Resources) -> None:
        self.resources = resources
        self.steps = AssetSync(settings, pool, resources)

    async def plan(self, step: Step[PullAndCleanOptions, Plan, AssetData]) -> Result:
        return await self._guarded(self.steps.plan(step.conn, step.job_id, step.options))

    async def run_step(self, step: Step[PullAndCleanOptions, AnyStep, AssetData]) -> Result:
        payload = step.payload
        if isinstance(payload, BatchStep):
            step.status = f"waiting to start batch {payload.batch + 1}"
            work = self.steps.batch(step.conn, step.job_id, step.options, payload.batch, step.data.batches or 1)
        elif isinstance(payload, PullStep):
            step.status = f"pulling asset {payload.asset_id}"
            work = self.steps.pull(step.conn, step.job_id, step.options, payload.asset_id)
        else:
            work = self.steps.clean(step.conn, step.job_id, payload.asset_id)
        return await self._guarded(work)

    async def _guarded(self, work: Coroutine[Any, Any, Outcome]) -> Result:
        try:
            return _result(await work)
        except TableNotFound as exc:
            raise JobFailed(str(exc)) from exc
        except RateLimitWaitTooLong as exc:
            raise RetryLater(exc.wait_s, f"GitHub rate limit on {exc.key}") from exc
        except WaitTooLong as exc:
            raise RetryLater(exc.wait_s, f"rate limit on {exc.key}") from exc

    async def on_job_end(self, job: FinishedJob[PullAndCleanOptions, AssetData]) -> JobSummary[AssetData]:
        """The counts, once, from the job's snapshot; the seed's closing line when it completed."""
        completed = job.state is JobStatus.COMPLETED
        data = await self.steps.summary(job.conn, job.job_id, job.data, report=completed)
        if not completed:
            return JobSummary((await super().on_job_end(job)).message, data)
        return JobSummary(summary_line(data), data)
