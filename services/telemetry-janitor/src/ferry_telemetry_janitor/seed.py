"""`telemetry-janitor.seed-demo`: fill ferry's own webhook table with realistic rows (demos, benchmarks)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ferry.contracts import JobStatus, SeedDemoOptions
from ferry.jobs import FinishedJob, JobData, JobFailed, JobHandler, JobSummary, Plan, Step, StepPayload, StepResult
from ferry_telemetry_janitor import sql
from ferry_telemetry_janitor.errors import TableNotFound
from ferry_telemetry_janitor.settings import JanitorSettings

MODEL = "LearnPackWebhook"


class Chunk(StepPayload):
    """Insert demo rows `first`..`last` (1-based) of `of`."""

    kind: Literal["chunk"] = "chunk"
    first: int = Field(ge=1)
    last: int = Field(ge=1)
    of: int = Field(ge=1)


class SeedDemoData(JobData):
    rows: int = 0
    dry_run: bool = False
    thresholds: tuple[int, int, int] = (0, 0, 0)
    shares: str = ""


class SeedDemoJob(JobHandler[SeedDemoOptions, Chunk, SeedDemoData]):
    """`telemetry-janitor.seed-demo`: fill ferry's own webhook table with realistic rows."""

    command = "seed-demo"
    options_model = SeedDemoOptions
    step_model = Chunk
    data_model = SeedDemoData
    chunk_rows = 50_000
    """Rows per step: replicas insert chunks in parallel, each in one short transaction."""

    def __init__(self, settings: JanitorSettings) -> None:
        self.settings = settings

    async def run_step(self, step: Step[SeedDemoOptions, Chunk, SeedDemoData]) -> StepResult[Chunk, SeedDemoData]:
        chunk = step.payload
        inserted = await sql.insert_demo_rows(
            step.conn, self.settings.table_sql, chunk.first, chunk.last, chunk.of, step.data.thresholds
        )
        return StepResult(
            succeeded=inserted, message=f"Inserted demo rows {chunk.first:,}-{chunk.last:,} of {chunk.of:,}"
        )

    async def plan(self, step: Step[SeedDemoOptions, Plan, SeedDemoData]) -> StepResult[Chunk, SeedDemoData]:
        opts = step.options
        if not self.settings.is_own_table:
            raise JobFailed(
                f"seed-demo only fills ferry's own table; FERRY_JANITOR_TABLE is {self.settings.janitor_table}"
            )
        if opts.pending + opts.done + opts.ignored > 1 + 1e-9:
            raise JobFailed(
                f"status shares add up to more than 1 (pending={opts.pending}, done={opts.done}, "
                f"ignored={opts.ignored})"
            )
        try:
            await sql.check_table(step.conn, self.settings.table_sql)
        except TableNotFound as exc:
            raise JobFailed(str(exc)) from exc
        thresholds = sql.share_thresholds(opts.pending, opts.done, opts.ignored)
        error = 1 - opts.pending - opts.done - opts.ignored
        shares = f"PENDING {opts.pending:.0%}, DONE {opts.done:.0%}, IGNORED {opts.ignored:.0%}, ERROR {error:.0%}"
        data = SeedDemoData(rows=opts.rows, dry_run=opts.dry_run, thresholds=thresholds, shares=shares)
        if opts.dry_run:
            return StepResult(total=opts.rows, data=data, message=f"Would insert {opts.rows:,} demo rows ({shares})")
        chunks = [
            Chunk(first=first, last=min(first + self.chunk_rows - 1, opts.rows), of=opts.rows)
            for first in range(1, opts.rows + 1, self.chunk_rows)
        ]
        return StepResult(
            total=opts.rows, data=data, children=chunks,
            message=f"Inserting {opts.rows:,} demo rows ({shares}) in {len(chunks)} chunks",
        )

    async def on_job_end(self, job: FinishedJob[SeedDemoOptions, SeedDemoData]) -> JobSummary[SeedDemoData]:
        if job.state is not JobStatus.COMPLETED:
            return await super().on_job_end(job)
        if job.data.dry_run:
            return JobSummary(f"DRY RUN MODE - No records will be inserted (would insert {job.data.rows:,})")
        return JobSummary(f"Inserted {job.succeeded:,} demo {MODEL} records ({job.data.shares})")
