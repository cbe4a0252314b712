"""`peloton-sync.sync-class-library` on the job runtime (`SyncClassLibraryJob`): a thin adapter.

The work is in `library_sync` (plan, one page, the end); this module maps its outcomes and errors to
the runtime's: no connection or a failed authentication fails the job with the seed's message, a
long rate-limit wait parks the step (RetryLater), one class's error is an item failure. The job's
last open step writes the report.
"""

from __future__ import annotations

from typing import Any

from ferry.contracts.peloton_sync import SyncClassLibraryOptions
from ferry.jobs.errors import JobFailed, RetryLater
from ferry.jobs.model import ItemFailure, Step, StepResult
from ferry.jobs.store import JobStore
from ferry_peloton_sync import SERVICE, library_sync
from ferry_peloton_sync.errors import AuthFailed, NoConnection, PelotonUnavailable, RateLimitWaitTooLong
from ferry_peloton_sync.library_sync import ListingUnavailable, Outcome
from ferry_peloton_sync.resources import Resources

LISTING_RETRY_S = 30.0


def _result(outcome: Outcome) -> StepResult:
    failures = [ItemFailure(f"{e.title}: {e.message}", item=e.ride_id, detail={"error": "class_failed"})
                for e in outcome.errors]
    return StepResult(succeeded=outcome.succeeded, failed=outcome.failed, skipped=outcome.skipped,
                      add_total=outcome.add_total, children=outcome.children, data=outcome.data,
                      message=outcome.message, failures=failures)


class SyncClassLibraryJob:
    """`peloton-sync.sync-class-library`."""

    command = "sync-class-library"
    options_model = SyncClassLibraryOptions

    def __init__(self, resources: Resources) -> None:
        self.resources = resources
        self.jobs = JobStore(SERVICE)

    async def aclose(self) -> None:
        await self.resources.aclose()

    async def run_step(self, step: Step[SyncClassLibraryOptions]) -> StepResult:
        try:
            if step.is_plan:
                return _result(await library_sync.plan(self.resources, step.conn, step.job_id, step.options))

            def status(message: str) -> None:
                step.status = message

            outcome = await library_sync.page(self.resources, step.conn, step.job_id, step.options, step.data,
                                              step.payload, step.attempt, on_status=status)
        except (NoConnection, AuthFailed) as exc:
            raise JobFailed(str(exc)) from exc
        except RateLimitWaitTooLong as exc:
            raise RetryLater(exc.wait_s, f"rate limit on {exc.key}") from exc
        except ListingUnavailable as exc:
            raise RetryLater(LISTING_RETRY_S, str(exc)) from exc
        except PelotonUnavailable as exc:  # the token endpoint is down: try the step again later
            raise RetryLater(LISTING_RETRY_S, str(exc)) from exc
        result = _result(outcome)
        if not result.children and await self._is_last(step):
            data, line = await library_sync.end(step.conn, step.job_id, step.options, {**step.data, **result.data})
            result.data.update(data, summary=line)
        return result

    async def _is_last(self, step: Step[SyncClassLibraryOptions]) -> bool:
        """Whether no other step of the job is open (the job's row lock serialises two last steps)."""
        await self.jobs.get(step.conn, step.job_id, lock=True)
        return await self.jobs.open_steps(step.conn, step.job_id) == [step.step_no]

    def summary_line(self, job: dict[str, Any]) -> str:
        data = job.get("data") or {}
        return str(data.get("summary") or "Synced the Peloton class library")
