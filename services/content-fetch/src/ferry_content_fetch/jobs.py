"""`content-fetch.fetch` as a job handler (`FetchContent`).

    plan      pick the sources of the asked type (FERRY_CONTENT_SOURCES), note the job's deadline,
              and make one `source` step per source, so replicas fetch sources in parallel
    source    fetch one source (an Open Trivia DB batch, or a feed conditionally), store its new items
              and its log in the step's transaction (they commit with the checkpoint); a failure is
              this source's error, never the other sources'
    end       `on_job_end` builds the ProcessingLog fields from the sources' logs

A job still running at its deadline (`--timeout`, else FERRY_CONTENT_FETCH_TIMEOUT_S) fails with
"timed out after N s", naming the sources still running; its remaining steps are dropped.
"""

from __future__ import annotations

import asyncio
import time
from typing import Literal

import asyncpg
import httpx

from ferry.contracts.content_fetch import (
    COMPLETED,
    FAILED_PREFIX,
    SKIPPED,
    ContentType,
    FetchOptions,
    SourceLog,
)
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
from ferry.ratelimit import Limiter
from ferry_content_fetch import store
from ferry_content_fetch.errors import RateLimited, SourceFailed
from ferry_content_fetch.feeds import FeedClient
from ferry_content_fetch.settings import ContentFetchSettings
from ferry_content_fetch.sources import FeedSource, TriviaSource
from ferry_content_fetch.trivia import TriviaClient

TYPE_WORDS = {ContentType.MCQ: "MCQ", ContentType.CURRENT_AFFAIRS: "current-affairs"}


class SourceStep(StepPayload):
    kind: Literal["source"] = "source"
    source: str


class ContentData(JobData):
    """The job's summary: what the plan chose, then (at the end) the ProcessingLog fields."""

    type: ContentType = ContentType.BOTH
    dry_run: bool = False
    timeout_s: int = 0
    deadline: float = 0.0
    sources: list[str] = []
    unconfigured: list[ContentType] = []
    # The ProcessingLog fields, set when the job ends (None until then, so every one of them is written).
    total_items: int | None = None
    processed_items: int | None = None
    success_count: int | None = None
    error_count: int | None = None
    new_items: int | None = None
    duplicates: int | None = None
    unchanged_sources: int | None = None
    mcq_status: str | None = None
    current_affairs_status: str | None = None
    error_message: str | None = None
    timed_out: bool | None = None
    log_details: list[SourceLog] | None = None


class FetchContent(JobHandler[FetchOptions, SourceStep, ContentData]):
    """`content-fetch.fetch`: MCQs and/or current affairs from every configured source of the type."""

    command = "fetch"
    options_model = FetchOptions
    step_model = SourceStep
    data_model = ContentData

    def __init__(
        self, settings: ContentFetchSettings, http: httpx.AsyncClient, limiter: Limiter, pool: asyncpg.Pool
    ) -> None:
        self.settings = settings
        self.sources = {s.name: s for s in settings.content_sources}
        self.trivia = TriviaClient(http, limiter, pool)
        self.feeds = FeedClient(http, limiter)

    async def plan(self, step: Step[FetchOptions, Plan, ContentData]) -> StepResult[SourceStep, ContentData]:
        opts = step.options
        kinds = [k for k in (ContentType.MCQ, ContentType.CURRENT_AFFAIRS) if opts.type.includes(k)]
        chosen = [s for s in self.sources.values() if s.type in kinds]
        unconfigured = [k for k in kinds if not any(s.type is k for s in chosen)]
        if not chosen:
            raise JobFailed(f"no sources for --type {opts.type.value} in FERRY_CONTENT_SOURCES")
        timeout = opts.timeout_s or self.settings.content_fetch_timeout_s
        data = ContentData(type=opts.type, dry_run=opts.dry_run, timeout_s=timeout, deadline=time.time() + timeout,
                           sources=[s.name for s in chosen], unconfigured=unconfigured)
        message = f"Fetching {opts.type.value} from {len(chosen)} sources: {', '.join(data.sources)}"
        if opts.dry_run:
            message = "DRY RUN - nothing will be stored. " + message
        return StepResult(total=0, children=[SourceStep(source=s.name) for s in chosen], data=data, message=message)

    async def run_step(self, step: Step[FetchOptions, SourceStep, ContentData]) -> StepResult[SourceStep, ContentData]:
        source = self.sources.get(step.payload.source)
        if source is None:
            raise JobFailed(f"source {step.payload.source!r} is no longer in FERRY_CONTENT_SOURCES")
        remaining = step.data.deadline - time.time()
        if remaining <= 0:
            raise JobFailed(await self._timeout_message(step))
        step.status = f"fetching {source.name}"
        started = time.monotonic()
        log = SourceLog(source=source.name, kind=source.kind, type=source.type)
        deadline = asyncio.timeout(remaining)
        try:
            async with deadline:
                log = await self._fetch(step, source, log)
        except TimeoutError:
            if not deadline.expired():  # some other timeout inside (the database's): not the job's deadline
                raise
            raise JobFailed(await self._timeout_message(step)) from None
        except RateLimited as exc:
            # Parked no longer than the deadline: the step comes back to fail the job on time (a long
            # Retry-After would otherwise keep it "running" well past its timeout).
            wait = min(exc.seconds, max(0.0, step.data.deadline - time.time()))
            raise RetryLater(wait, f"{source.name}: {exc.reason}") from exc
        except SourceFailed as exc:
            log = log.model_copy(update={"error": str(exc)})
        log = log.model_copy(update={"duration_s": round(time.monotonic() - started, 3)})
        await store.save_log(step.conn, step.job_id, log)
        if log.error:
            failure = ItemFailure(f"{source.name}: {log.error}", item=source.name,
                                  detail={"source": source.name, "type": source.type.value})
            return StepResult(add_total=1, failed=1, failures=[failure], message=f"{source.name} failed: {log.error}")
        what = "unchanged" if log.unchanged else f"{log.fetched} fetched, {log.new} new, {log.duplicates} duplicates"
        return StepResult(add_total=log.fetched, succeeded=log.new, skipped=log.duplicates,
                          message=f"{source.name}: {what}")

    async def _fetch(self, step: Step[FetchOptions, SourceStep, ContentData], source: TriviaSource | FeedSource,
                     log: SourceLog) -> SourceLog:
        conn, dry = step.conn, step.options.dry_run
        if isinstance(source, TriviaSource):
            batch = await self.trivia.fetch(source)
            unique = list({q.hash: q for q in batch.questions}.values())
            if dry:
                new = len(unique) - len(await store.known_questions(conn, [q.hash for q in unique]))
            else:
                new = await store.add_questions(conn, source.name, step.job_id, unique)
            return log.model_copy(update={"fetched": len(batch.questions), "new": new,
                                          "duplicates": len(batch.questions) - new, "requests": batch.requests,
                                          "warning": batch.warning})
        etag, modified = await store.feed_validators(conn, source.name, str(source.url))
        result = await self.feeds.fetch(source, etag, modified)
        if result.unchanged:
            return log.model_copy(update={"unchanged": True, "requests": result.requests})
        unique_h = list({h.key: h for h in result.headlines}.values())
        if dry:
            new = len(unique_h) - len(await store.known_headlines(conn, source.name, [h.key for h in unique_h]))
        else:
            new = await store.add_headlines(conn, source.name, step.job_id, unique_h)
            await store.save_feed_validators(conn, source.name, str(source.url), result.etag, result.last_modified)
        return log.model_copy(update={"fetched": len(result.headlines), "new": new,
                                      "duplicates": len(result.headlines) - new, "requests": result.requests,
                                      "warning": result.warning})

    async def _timeout_message(self, step: Step[FetchOptions, SourceStep, ContentData]) -> str:
        done = {log.source for log in await store.job_logs(step.conn, step.job_id)}
        running = [name for name in step.data.sources if name not in done]
        return f"timed out after {step.data.timeout_s} s; still running: {', '.join(running) or 'nothing'}"

    async def on_job_end(self, job: FinishedJob[FetchOptions, ContentData]) -> JobSummary[ContentData]:
        logs = await store.job_logs(job.conn, job.job_id)
        data = job.data
        kinds = {name: self.sources[name].type for name in data.sources if name in self.sources}
        error = job.error or ("cancelled" if job.state == "cancelled" else None)

        def status(kind: ContentType) -> str:
            if not data.type.includes(kind):
                return SKIPPED
            if kind in data.unconfigured:
                return f"{FAILED_PREFIX}no {TYPE_WORDS[kind]} sources in FERRY_CONTENT_SOURCES"
            errors = [f"{log.source}: {log.error}" for log in logs if log.type is kind and log.error]
            finished = {log.source for log in logs}
            if error and any(t is kind and n not in finished for n, t in kinds.items()):
                errors.append(error)
            return f"{FAILED_PREFIX}{'; '.join(errors)}" if errors else COMPLETED

        mcq, current = status(ContentType.MCQ), status(ContentType.CURRENT_AFFAIRS)
        fetched = sum(log.fetched for log in logs)
        new = sum(log.new for log in logs)
        duplicates = sum(log.duplicates for log in logs)
        failed_sources = [log for log in logs if log.error]
        messages = [f"{log.source}: {log.error}" for log in failed_sources] + ([error] if error else [])
        final = data.model_copy(update={
            "total_items": fetched, "processed_items": fetched, "success_count": new + duplicates,
            "error_count": len(failed_sources) + (1 if job.error else 0), "new_items": new, "duplicates": duplicates,
            "unchanged_sources": sum(1 for log in logs if log.unchanged), "mcq_status": mcq,
            "current_affairs_status": current, "error_message": "; ".join(messages),
            "timed_out": bool(job.error and job.error.startswith("timed out")), "log_details": logs,
        })
        verb = "Would store" if data.dry_run else "Stored"
        line = (f"{verb} {new} new items of {fetched} fetched ({duplicates} duplicates, "
                f"{final.unchanged_sources} feeds unchanged, {len(failed_sources)} sources failed); "
                f"MCQ: {mcq}; current affairs: {current}")
        return JobSummary(message=line if not job.error else f"{job.error}. {line}", data=final)
