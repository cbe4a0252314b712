"""`telemetry-janitor.seed-demo`: fill ferry's own webhook table with realistic rows (demos, benchmarks)."""

from __future__ import annotations

from typing import Any

from ferry.contracts import SeedDemoOptions
from ferry.jobs.errors import JobFailed
from ferry.jobs.model import Step, StepResult
from ferry_telemetry_janitor import sql
from ferry_telemetry_janitor.errors import TableNotFound
from ferry_telemetry_janitor.settings import JanitorSettings

MODEL = "LearnPackWebhook"


class SeedDemoJob:
    """`telemetry-janitor.seed-demo`: fill ferry's own webhook table with realistic rows."""

    command = "seed-demo"
    options_model = SeedDemoOptions
    chunk_rows = 50_000
    """Rows per step: replicas insert chunks in parallel, each in one short transaction."""

    def __init__(self, settings: JanitorSettings) -> None:
        self.settings = settings

    async def run_step(self, step: Step[SeedDemoOptions]) -> StepResult:
        if step.is_plan:
            return await self._plan(step)
        first, last, of = (int(step.payload[k]) for k in ("first", "last", "of"))
        shares = step.data["thresholds"]
        inserted = await sql.insert_demo_rows(
            step.conn, self.settings.table_sql, first, last, of, (shares[0], shares[1], shares[2])
        )
        return StepResult(succeeded=inserted, message=f"Inserted demo rows {first:,}-{last:,} of {of:,}")

    async def _plan(self, step: Step[SeedDemoOptions]) -> StepResult:
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
        data = {"rows": opts.rows, "dry_run": opts.dry_run, "thresholds": list(thresholds), "shares": shares}
        if opts.dry_run:
            return StepResult(total=opts.rows, data=data, message=f"Would insert {opts.rows:,} demo rows ({shares})")
        chunks = [
            {"kind": "chunk", "first": first, "last": min(first + self.chunk_rows - 1, opts.rows), "of": opts.rows}
            for first in range(1, opts.rows + 1, self.chunk_rows)
        ]
        return StepResult(
            total=opts.rows, data=data, children=chunks,
            message=f"Inserting {opts.rows:,} demo rows ({shares}) in {len(chunks)} chunks",
        )

    def summary_line(self, job: dict[str, Any]) -> str:
        data = job.get("data") or {}
        if data.get("dry_run"):
            return f"DRY RUN MODE - No records will be inserted (would insert {int(data.get('rows', 0)):,})"
        return f"Inserted {int(job.get('succeeded') or 0):,} demo {MODEL} records ({data.get('shares', '')})"

