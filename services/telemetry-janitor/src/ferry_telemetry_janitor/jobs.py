"""The janitor's commands as job handlers: `clear` (ClearJob, here) and `seed-demo` (SeedDemoJob, seed.py).

A clear job is planned in step 0 (count the matching rows, pin the highest id, choose the method),
then runs as a chain of steps, each in its own transaction which the runtime commits together with
the step's checkpoint: either one `single` step (one DELETE, falling back to batches if it fails)
or `batch` steps, each deleting one keyset range and handing on `{cursor, size}` for the next.
Killed mid-job, the batch in flight rolls back with its checkpoint and is run again: nothing is
deleted unseen or counted twice.
"""

from __future__ import annotations

import asyncio
import math
import time
from typing import Any, Literal

import asyncpg
from pydantic import Field

from ferry.contracts import ClearOptions, JobStatus, WebhookStatus
from ferry.db import Conn, schema_name
from ferry.jobs import (
    FinishedJob,
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
from ferry.jobs.infra import is_outage
from ferry_telemetry_janitor import SERVICE, sizing, sql
from ferry_telemetry_janitor.errors import TableNotFound
from ferry_telemetry_janitor.seed import SeedDemoJob
from ferry_telemetry_janitor.settings import JanitorSettings

__all__ = ["Batch", "ClearData", "ClearJob", "SeedDemoJob", "Single"]

MODEL = "LearnPackWebhook"
LOCKED_RETRY_S = 5.0
SLOW_ROW_ATTEMPTS = 5
"""A one-row batch cancelled at the lock bound is tried this often (parked between tries) before the
job fails: one slow statement is a busy machine (a checkpoint, CPU contention), not a slow table."""
SLOW_ROW_RETRY_S = 5.0
SLOW_ROW_TRIES_AT_ONCE = 3
"""Tries of a one-row batch within its step (SLOW_ROW_PAUSE_S apart) before the step is parked."""
SLOW_ROW_PAUSE_S = 0.05
CHECKPOINT_WAIT_MAX_S = 3.0
"""Longest a batch sits out a checkpoint's fsync phase before deleting anyway."""
CHECKPOINT_POLL_S = 0.025
SINGLE_SHARE_OF_STEP_TIMEOUT = 0.5
"""A forced single DELETE (--use-cursor) may run for this share of FERRY_STEP_TIMEOUT_S, then batches."""


class Single(StepPayload):
    """Delete every matching row in one statement."""

    kind: Literal["single"] = "single"


class Batch(StepPayload):
    """Delete the matching rows among the next `span` ids after `cursor`."""

    kind: Literal["batch"] = "batch"
    cursor: int = Field(description="The highest id already walked.")
    span: int = Field(gt=0, description="How many ids this batch walks.")
    rate: float | None = Field(None, description="The smoothed delete speed (ids per ms) so far.")


ClearStep = Single | Batch


class ClearData(JobData):
    """What a clear job found and did (the job's result)."""

    status: str = ""
    table: str = ""
    found: int = 0
    up_to_id: int | None = None
    dry_run: bool = False
    deleted: int = 0
    batches: int = 0
    cancelled_batches: int = 0
    longest_batch_ms: float = 0.0
    last_batch_rows: int | None = None
    checkpoint_wait_ms: float = 0.0
    max_lock_ms: float = 0.0
    analyzed: bool = False
    status_summary: dict[str, int] | None = None
    method: str | None = None
    method_reason: str = ""
    fallback: str | None = None
    batch_size: int | None = None
    first_span: int = 1
    vanished: int | None = None


def _found_line(found: int, status: str) -> str:
    return f"Found {found:,} {MODEL} records with status '{status}'"


def _none_line(status: str) -> str:
    return f"No {MODEL} records found with status '{status}'"


def _short(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:300]


class ClearJob(JobHandler[ClearOptions, ClearStep, ClearData]):
    """`telemetry-janitor.clear`: delete LearnPackWebhook rows by status, without long locks."""

    command = "clear"
    options_model = ClearOptions
    step_model = ClearStep
    data_model = ClearData

    def __init__(self, settings: JanitorSettings) -> None:
        self.table = settings.table_sql
        self.table_name = settings.janitor_table
        self.bound_ms = settings.janitor_max_lock_ms
        self.schema = schema_name(SERVICE)
        self.single_budget_ms = settings.step_timeout_s * 1000 * SINGLE_SHARE_OF_STEP_TIMEOUT
        self.wal_compression = True  # until Postgres refuses it to this role (then never asked again)

    async def run_step(self, step: Step[ClearOptions, ClearStep, ClearData]) -> StepResult[ClearStep, ClearData]:
        if isinstance(step.payload, Single):
            return await self._single(step)
        return await self._batch(step, step.payload)

    # -- step 0 ---------------------------------------------------------------------------
    async def plan(self, step: Step[ClearOptions, Plan, ClearData]) -> StepResult[ClearStep, ClearData]:
        opts, conn = step.options, step.conn
        status = opts.status.value
        try:
            await sql.check_table(conn, self.table)
        except TableNotFound as exc:
            raise JobFailed(str(exc)) from exc
        analyzed = await sql.ensure_statistics(conn, self.table)
        # Pin the newest row now: rows arriving during the job are not this job's to delete.
        up_to = opts.up_to_id if opts.up_to_id is not None else await sql.max_id(conn, self.table)
        found = 0 if up_to is None else await sql.count_rows(conn, self.table, opts.status, up_to)
        data = ClearData(
            status=status, table=self.table_name, found=found, up_to_id=up_to, dry_run=opts.dry_run,
            max_lock_ms=self.bound_ms, analyzed=analyzed,
            status_summary=await sql.status_summary(conn, self.table) if opts.show_summary or found == 0 else None,
        )
        if found == 0 or up_to is None:
            data = data.model_copy(update={"method": None, "method_reason": "nothing to delete"})
            return StepResult(total=0, data=data, message=_none_line(status))
        await sql.ensure_rate_row(conn, self.schema, self.table)
        rate = await sql.read_rate(conn, self.schema, self.table)
        method, reason = sizing.choose_method(found, use_cursor=opts.use_cursor, rate=rate, bound_ms=self.bound_ms)
        data = data.model_copy(update={"method": method, "method_reason": reason, "batch_size": opts.batch_size})
        if opts.dry_run:
            return StepResult(total=found, data=data, message=_found_line(found, status))
        # Batches walk the primary key by `span` rows of any status: start with the span that holds
        # about --batch-size matching rows.
        everything = found if opts.status is WebhookStatus.ALL else await sql.count_rows(
            conn, self.table, WebhookStatus.ALL, up_to
        )
        data = data.model_copy(update={"first_span": math.ceil(opts.batch_size * everything / found)})
        child: ClearStep = Single() if method == "single" else self._first_batch(data)
        return StepResult(total=found, data=data, children=[child], message=_found_line(found, status))

    @staticmethod
    def _first_batch(data: ClearData) -> Batch:
        return Batch(cursor=sql.NO_CURSOR, span=data.first_span)

    # -- one statement --------------------------------------------------------------------
    async def _single(self, step: Step[ClearOptions, ClearStep, ClearData]) -> StepResult[ClearStep, ClearData]:
        opts, conn, data = step.options, step.conn, step.data
        assert data.up_to_id is not None  # the plan pins it before it plans any delete
        up_to = data.up_to_id
        step.status = "deleting in one statement"
        if self.wal_compression:
            self.wal_compression = await sql.compress_wal(conn)
        started = time.monotonic()
        try:
            async with conn.transaction():  # a savepoint: a failed statement leaves the step usable
                # Never queue behind another transaction's row locks (we would block others meanwhile);
                # in the automatic choice, never outlast the lock bound the estimate promised; and
                # even when forced (--use-cursor), end well before the step's own time limit.
                lock_was = await sql.set_local(conn, "lock_timeout", f"{sizing.lock_wait_ms(self.bound_ms)}ms")
                budget_ms = self.single_budget_ms if opts.use_cursor else sizing.statement_ms(self.bound_ms)
                timeout_was = await sql.set_local(conn, "statement_timeout", f"{budget_ms:.0f}ms")
                deleted = await sql.delete_all(conn, self.table, opts.status, up_to)
                await sql.set_local(conn, "lock_timeout", lock_was)
                await sql.set_local(conn, "statement_timeout", timeout_was)
        except asyncpg.PostgresError as exc:
            if is_outage(exc):
                raise
            reason = _short(exc)
            return StepResult(
                children=[self._first_batch(data)],
                data=data.model_copy(update={
                    "method": "batched", "fallback": reason,
                    "method_reason": f"{data.method_reason}; the single statement failed ({reason})",
                }),
                message=f"Single DELETE failed ({reason}); falling back to batches of {opts.batch_size:,}",
            )
        elapsed_s = time.monotonic() - started
        await sql.record_rate(conn, self.schema, self.table, deleted, elapsed_s)
        return self._counted(step, deleted, last=True, data={
            "batches": 0, "longest_batch_ms": round(elapsed_s * 1000, 1),
        }, message=f"Deleted {deleted:,} records using raw SQL")

    # -- keyset batches -------------------------------------------------------------------
    async def _batch(
        self, step: Step[ClearOptions, ClearStep, ClearData], todo: Batch
    ) -> StepResult[ClearStep, ClearData]:
        opts, conn, data = step.options, step.conn, step.data
        cursor, span = todo.cursor, todo.span
        assert data.up_to_id is not None  # the plan pins it before it plans any delete
        up_to = data.up_to_id
        step.status = f"deleting a batch ({span:,} ids from {cursor})"
        waited_ms = await self._sit_out_checkpoint_sync(conn)
        if self.wal_compression:
            self.wal_compression = await sql.compress_wal(conn)
        started = time.monotonic()
        try:
            # A one-row batch is tried again at once a few times: cancelled, it released its row
            # (the savepoint rolled back), and one slow statement is usually a moment's CPU contention.
            for tries_left in reversed(range(SLOW_ROW_TRIES_AT_ONCE if span <= sizing.MIN_BATCH else 1)):
                started = time.monotonic()
                try:
                    async with conn.transaction():
                        # Wait only briefly for rows someone else holds: meanwhile ours stay locked too.
                        lock_was = await sql.set_local(conn, "lock_timeout", f"{sizing.lock_wait_ms(self.bound_ms)}ms")
                        batch = await sql.delete_batch(
                            conn, self.table, opts.status, cursor, up_to, span,
                            budget_ms=sizing.statement_ms(self.bound_ms),
                        )
                        await sql.set_local(conn, "lock_timeout", lock_was)
                    break
                except asyncpg.QueryCanceledError:
                    if not tries_left:
                        raise
                    await asyncio.sleep(SLOW_ROW_PAUSE_S)
        except asyncpg.LockNotAvailableError as exc:
            # Someone holds some of these rows: wait and try again rather than block behind them.
            raise RetryLater(LOCKED_RETRY_S, f"rows locked by another transaction ({_short(exc)})") from exc
        except asyncpg.QueryCanceledError as exc:
            if span <= sizing.MIN_BATCH:
                slow = f"deleting a single row took longer than FERRY_JANITOR_MAX_LOCK_MS ({self.bound_ms} ms)"
                if step.attempt < SLOW_ROW_ATTEMPTS:
                    raise RetryLater(SLOW_ROW_RETRY_S, f"{slow}; the database may be busy ({_short(exc)})") from exc
                raise JobFailed(f"{slow}, {step.attempt} times in a row: {_short(exc)}") from exc
            smaller = max(sizing.MIN_BATCH, span // 4)  # it would have outlasted the bound: shrink fast
            spent_ms = (time.monotonic() - started) * 1000
            return StepResult(
                children=[todo.model_copy(update={"span": smaller, "rate": None})],
                data=data.model_copy(update={
                    "cancelled_batches": data.cancelled_batches + 1,
                    "longest_batch_ms": round(max(data.longest_batch_ms, spent_ms), 1),
                    "checkpoint_wait_ms": round(data.checkpoint_wait_ms + waited_ms),
                }),
                message=f"Batch of {span:,} ids cancelled ({_short(exc)}); retrying with {smaller:,}",
            )
        elapsed_s = time.monotonic() - started
        elapsed_ms = elapsed_s * 1000
        # Every batch counts toward the table's delete speed: small ones under-estimate it (their
        # overhead weighs more), which errs toward batches; a threshold left it unlearnt under a
        # small lock bound, where every batch is small.
        await sql.record_rate(conn, self.schema, self.table, batch.deleted, elapsed_s)
        # Sized in ids walked (what the time depends on): the matching rows among them follow.
        next_span, rate = sizing.next_batch_size(span, span, elapsed_ms, self.bound_ms, todo.rate)
        children: list[ClearStep] = [] if batch.last else [Batch(cursor=batch.cursor, span=next_span, rate=rate)]
        deleted = data.deleted + batch.deleted
        total = max(step.total or 0, deleted)
        pct = 100.0 * deleted / total if total else 100.0
        return self._counted(step, batch.deleted, last=batch.last, children=children, data={
            "method": "batched",
            "batches": data.batches + 1,
            "longest_batch_ms": round(max(data.longest_batch_ms, elapsed_ms), 1),
            "last_batch_rows": batch.deleted,
            "checkpoint_wait_ms": round(data.checkpoint_wait_ms + waited_ms),
        }, message=f"Deleted {deleted:,}/{total:,} records ({pct:.1f}%) - Remaining: {total - deleted:,}")

    @staticmethod
    async def _sit_out_checkpoint_sync(conn: Conn) -> float:
        """Wait (holding no lock on the table yet) while a checkpoint fsyncs; milliseconds waited."""
        started = time.monotonic()
        for _ in range(int(CHECKPOINT_WAIT_MAX_S / CHECKPOINT_POLL_S)):  # polling the server: no event to await
            if not await sql.checkpoint_syncing(conn):
                break
            await asyncio.sleep(CHECKPOINT_POLL_S)
        return (time.monotonic() - started) * 1000

    @staticmethod
    def _counted(
        step: Step[ClearOptions, ClearStep, ClearData], deleted_now: int, *, last: bool, data: dict[str, Any],
        message: str, children: list[ClearStep] | None = None,
    ) -> StepResult[ClearStep, ClearData]:
        """Count this step's deletions, keeping total = deleted + skipped when the job ends.

        Rows counted at plan time may be gone by the time their batch runs (deleted by someone
        else, or their status changed): the last step reports them as skipped. Rows that gained
        the status meanwhile grow the total instead.
        """
        deleted = step.data.deleted + deleted_now
        total = step.total or 0
        vanished = {"vanished": max(0, total - deleted)} if last else {}
        return StepResult(
            succeeded=deleted_now,
            add_total=max(0, deleted - total),
            skipped=max(0, total - deleted) if last else 0,
            children=children or [],
            data=step.data.model_copy(update={**data, "deleted": deleted, **vanished}),
            message=message,
        )

    async def on_job_end(self, job: FinishedJob[ClearOptions, ClearData]) -> JobSummary[ClearData]:
        data = job.data
        if job.state is not JobStatus.COMPLETED:
            return await super().on_job_end(job)
        if not data.found:
            return JobSummary(_none_line(data.status))
        if data.dry_run:
            return JobSummary("DRY RUN MODE - No records will be deleted")
        line = f"Successfully deleted {job.succeeded:,} {MODEL} records with status '{data.status}'"
        if data.vanished:
            line += f" ({data.vanished:,} counted rows were already gone)"
        return JobSummary(line)
