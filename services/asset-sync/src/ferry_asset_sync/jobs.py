"""`asset-sync.pull-and-clean` on the job runtime: a thin adapter from the runtime's step to the
plain steps of `steps.py` (which hold all the logic and can be called without a broker).

Rate-limit waits longer than FERRY_ASSET_SYNC_MAX_INLINE_WAIT_S park the step (RetryLater) rather
than hold a delivery; a missing assets table fails the job.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from ferry.contracts.asset_sync import PullAndCleanOptions
from ferry.github import RateLimitWaitTooLong
from ferry.jobs.errors import JobFailed, RetryLater
from ferry.jobs.model import ItemFailure, Step, StepResult
from ferry.ratelimit import WaitTooLong
from ferry_asset_sync.errors import TableNotFound
from ferry_asset_sync.resources import Resources
from ferry_asset_sync.settings import AssetSyncSettings
from ferry_asset_sync.steps import AssetSync, Outcome, summary_line


def _result(outcome: Outcome) -> StepResult:
    return StepResult(
        succeeded=outcome.succeeded, failed=outcome.failed, skipped=outcome.skipped, total=outcome.total,
        children=outcome.children, data=outcome.data, message=outcome.message,
        failures=[ItemFailure(message, item=slug) for slug, message in outcome.failures],
    )


class PullAndCleanJob:
    """`asset-sync.pull-and-clean`: pull assets' READMEs from GitHub and clean them."""

    command = "pull-and-clean"
    options_model = PullAndCleanOptions

    def __init__(self, settings: AssetSyncSettings, pool: asyncpg.Pool, resources: Resources) -> None:
        self.resources = resources
        self.steps = AssetSync(settings, pool, resources)

    async def aclose(self) -> None:
        await self.resources.aclose()

    async def run_step(self, step: Step[PullAndCleanOptions]) -> StepResult:
        try:
            return _result(await self._run(step))
        except TableNotFound as exc:
            raise JobFailed(str(exc)) from exc
        except RateLimitWaitTooLong as exc:
            raise RetryLater(exc.wait_s, f"GitHub rate limit on {exc.key}") from exc
        except WaitTooLong as exc:
            raise RetryLater(exc.wait_s, f"rate limit on {exc.key}") from exc

    async def _run(self, step: Step[PullAndCleanOptions]) -> Outcome:
        conn, job_id, options = step.conn, step.job_id, step.options
        if step.is_plan:
            return await self.steps.plan(conn, job_id, options)
        kind = step.payload.get("kind")
        if kind == "batch":
            step.status = f"waiting to start batch {int(step.payload['batch']) + 1}"
            return await self.steps.batch(conn, job_id, options, int(step.payload["batch"]),
                                          int(step.data.get("batches", 1)))
        if kind == "pull":
            step.status = f"pulling asset {step.payload['asset_id']}"
            return await self.steps.pull(conn, job_id, options, int(step.payload["asset_id"]))
        if kind == "clean":
            return await self.steps.clean(conn, job_id, int(step.payload["asset_id"]))
        raise JobFailed(f"unknown pull-and-clean step {step.payload!r}")

    def summary_line(self, job: dict[str, Any]) -> str:
        return summary_line(job.get("data") or {})
