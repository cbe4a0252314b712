"""`peloton-sync.sync-class-library` on the job runtime (`SyncClassLibraryJob`): a thin adapter.

The work is in `library_sync` (plan, one page, the end); this module maps its outcomes and errors to
the runtime's: no connection or a failed authentication fails the job with the seed's message, a
long rate-limit wait parks the step (RetryLater), one class's error is an item failure. The job's
last open step writes the report.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ferry.contracts import JobStatus
from ferry.contracts.peloton_sync import SyncClassLibraryOptions
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
from ferry_peloton_sync import library_sync
from ferry_peloton_sync.errors import AuthFailed, NoConnection, PelotonUnavailable, RateLimitWaitTooLong
from ferry_peloton_sync.library_sync import ListingUnavailable, Outcome
from ferry_peloton_sync.resources import Resources

LISTING_RETRY_S = 30.0


class PageStep(StepPayload):
    """One page of one discipline's archived list, and the pages of it seen so far (they steer the next)."""

    kind: Literal["page"] = "page"
    discipline: str = Field(description="The fitness discipline (browse_category) this chain of pages lists.")
    page: int = Field(ge=0, description="The page to fetch (0-based, newest first).")
    seen: tuple[tuple[int, int, int, int], ...] = Field(
        (), description="Pages fetched before: (page, classes, newest and oldest original_air_time).")


class DisciplineSummary(BaseModel):
    """One discipline's summary, as the seed prints it (and the pages its list took)."""

    model_config = ConfigDict(frozen=True)

    pages: int = Field(0, description="Archived-list pages fetched.")
    fetched: int = Field(0, description="Classes of the list inside the date window.")
    created: int = Field(0, description="Classes stored (a dry run: would be).")
    updated: int = Field(0, description="Classes another job had stored first.")
    skipped: int = Field(0, description="Classes known already, warm-ups/cool-downs, cycling not Power Zone.")
    errors: int = Field(0, description="Classes (or pages) that failed.")


class SyncData(JobData):
    """The job's summary data: what the plan chose, then (at the end) the seed's counts and report.

    The counts default to None, not 0: the runtime stores the fields a summary changes, so a count
    that ends at 0 is stored (and shown by `ferry job`) only because it changed from None.
    """

    connection: str = Field("", description="The connection used (its email, else its username).")
    username: str = Field("", description="The connection's leaderboard username (steps use it).")
    window: str = Field("", description="The date window's line, e.g. 'Filtering by December 2025: ...'.")
    disciplines: tuple[str, ...] = ()
    dry_run: bool = False
    limit_reached: bool = False
    disciplines_summary: dict[str, DisciplineSummary] | None = Field(
        None, description="Each discipline's summary (every count, zeros too), at the end.")
    pages: int | None = Field(None, description="Archived-list pages fetched, all disciplines.")
    fetched: int | None = Field(None, description="FINAL SUMMARY: Total rides fetched.")
    created: int | None = Field(None, description="FINAL SUMMARY: Created (a dry run: Would create).")
    updated: int | None = Field(None, description="FINAL SUMMARY: Updated.")
    skipped: int | None = Field(None, description="FINAL SUMMARY: Skipped.")
    errors: int | None = Field(None, description="FINAL SUMMARY: Errors.")
    report: tuple[str, ...] = Field((), description="The report's lines, as sync_class_library printed them.")
    summary: str = ""


def _result(outcome: Outcome, before: SyncData) -> StepResult[PageStep, SyncData]:
    failures = [ItemFailure(f"{e.title}: {e.message}", item=e.ride_id, detail={"error": "class_failed"})
                for e in outcome.errors]
    return StepResult(succeeded=outcome.succeeded, failed=outcome.failed, skipped=outcome.skipped,
                      add_total=outcome.add_total, children=[PageStep.model_validate(c) for c in outcome.children],
                      data=SyncData.model_validate({**before.model_dump(), **outcome.data}),
                      message=outcome.message, failures=failures)


class SyncClassLibraryJob(JobHandler[SyncClassLibraryOptions, PageStep, SyncData]):
    """`peloton-sync.sync-class-library`."""

    command = "sync-class-library"
    options_model = SyncClassLibraryOptions
    step_model = PageStep
    data_model = SyncData

    def __init__(self, resources: Resources) -> None:
        self.resources = resources

    async def plan(self, step: Step[SyncClassLibraryOptions, Plan, SyncData]) -> StepResult[PageStep, SyncData]:
        try:
            return _result(await library_sync.plan(self.resources, step.conn, step.job_id, step.options), step.data)
        except (NoConnection, AuthFailed) as exc:
            raise JobFailed(str(exc)) from exc
        except RateLimitWaitTooLong as exc:
            raise RetryLater(exc.wait_s, f"rate limit on {exc.key}") from exc
        except (ListingUnavailable, PelotonUnavailable) as exc:
            raise RetryLater(LISTING_RETRY_S, str(exc)) from exc

    async def run_step(
        self, step: Step[SyncClassLibraryOptions, PageStep, SyncData]
    ) -> StepResult[PageStep, SyncData]:
        try:

            def status(message: str) -> None:
                step.status = message

            outcome = await library_sync.page(
                self.resources, step.conn, step.job_id, step.options, step.data.model_dump(mode="json"),
                step.payload.model_dump(mode="json"), step.attempt, on_status=status)
        except (NoConnection, AuthFailed) as exc:
            raise JobFailed(str(exc)) from exc
        except RateLimitWaitTooLong as exc:
            raise RetryLater(exc.wait_s, f"rate limit on {exc.key}") from exc
        except ListingUnavailable as exc:
            raise RetryLater(LISTING_RETRY_S, str(exc)) from exc
        except PelotonUnavailable as exc:  # the token endpoint is down: try the step again later
            raise RetryLater(LISTING_RETRY_S, str(exc)) from exc
        return _result(outcome, step.data)

    async def on_job_end(self, job: FinishedJob[SyncClassLibraryOptions, SyncData]) -> JobSummary[SyncData]:
        """The seed's counts and report from the job's tallies (committed with each page, never counted
        in data fields); a job that failed or was cancelled after its plan gets them too, up to where
        it stopped."""
        if job.options is None or not job.data.username:
            return await super().on_job_end(job)
        stopped = None if job.state is JobStatus.COMPLETED else (job.error or job.state.value)
        data, line = await library_sync.end(job.conn, job.job_id, job.options, job.data.model_dump(mode="json"),
                                            stopped=stopped)
        return JobSummary(line, SyncData.model_validate({**job.data.model_dump(), **data, "summary": line}))
