"""The janitor's handlers run by ferry's own job runtime, in this process, on the real broker and database.

A test hands `InProcessJanitor.run_job` the handler it built (with the settings it wants) and the
options; the service, started once per test with `ferry.service.create_app`, runs the job through
RabbitMQ and Postgres exactly as a deployed replica would (steps, savepoints, parking, the outbox),
and the test reads what the job left: its events, its row and its steps' rows (`JobRun`).

`hook` runs at the start of every step, inside the step's transaction, before the handler: it is
how a test makes something happen between two steps (rows arrive, a lock is released). Each step's
transaction is timed from the handler's start to its COMMIT, which is how long the rows the step
deleted stayed locked.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from ferry.contracts import Options
from ferry.db import Conn, schema_name
from ferry.jobs import FinishedJob, JobHandler, JobSummary, Step, StepResult
from ferry.service import Handlers, JobServiceSpec, ServiceContext, create_app
from ferry_telemetry_janitor import SERVICE
from ferry_telemetry_janitor.jobs import ClearJob, SeedDemoJob
from ferry_telemetry_janitor.main import spec
from ferry_telemetry_janitor.settings import JanitorSettings
from tests.runtime.harness import EventTap
from tests.support.infra import Infra

Hook = Callable[[Conn, int, dict[str, Any], int], Awaitable[None]]
"""Called inside each step's transaction before the handler: (conn, step_no, payload, attempt)."""

FINAL = {"completed", "failed", "cancelled", "rejected"}
SCHEMA = schema_name(SERVICE)


@dataclass
class JobRun:
    """What one finished job left behind, as its events and its rows tell it."""

    status: str
    total: int | None
    succeeded: int
    failed: int
    skipped: int
    data: dict[str, Any]
    messages: list[str]
    """Each step's message, in order (the plan's first)."""
    payloads: list[dict[str, Any]]
    """Each step's payload, in order (the plan's first)."""
    transaction_ms: list[float]
    """Each step's transaction, from its handler's start to COMMIT (its last attempt)."""
    retries: int
    """How often a step was parked (RetryLater) and run again."""
    error: str | None
    summary: str
    """The job's last message (on_job_end's, for a completed job)."""

    @property
    def processed(self) -> int:
        return self.succeeded + self.failed + self.skipped


@dataclass
class _Timings:
    started: dict[tuple[UUID, int], float] = field(default_factory=dict)
    committed: dict[tuple[UUID, int], float] = field(default_factory=dict)

    def watch(self, step: Step[Any, Any, Any]) -> None:
        """Note the handler's start, and when the step's transaction commits."""
        key = (step.job_id, step.step_no)
        self.started[key] = time.monotonic()
        self.committed.pop(key, None)
        raw = getattr(step.conn, "_con", step.conn)  # the pooled connection itself, not its proxy

        def logged(query: Any) -> None:
            if query.query in ("COMMIT;", "ROLLBACK;"):
                if query.query == "COMMIT;":
                    self.committed[key] = time.monotonic()
                raw.remove_query_logger(logged)

        raw.add_query_logger(logged)

    def of(self, job_id: UUID, step_no: int) -> float:
        key = (job_id, step_no)
        return (self.committed[key] - self.started[key]) * 1000


class _Stand(JobHandler[Any, Any, Any]):
    """Stands in for one command: runs the handler the test gave last, after the test's hook."""

    def __init__(self, timings: _Timings) -> None:
        self.timings = timings
        self.handler: JobHandler[Any, Any, Any] | None = None
        self.hook: Hook | None = None

    async def _before(self, step: Step[Any, Any, Any]) -> JobHandler[Any, Any, Any]:
        assert self.handler is not None, f"no handler given for {self.command}"
        self.timings.watch(step)
        if self.hook is not None:
            await self.hook(step.conn, step.step_no, step.payload.model_dump(mode="json"), step.attempt)
        return self.handler

    async def plan(self, step: Step[Any, Any, Any]) -> StepResult[Any, Any]:
        return await (await self._before(step)).plan(step)

    async def run_step(self, step: Step[Any, Any, Any]) -> StepResult[Any, Any]:
        return await (await self._before(step)).run_step(step)

    async def on_job_end(self, job: FinishedJob[Any, Any]) -> JobSummary[Any]:
        assert self.handler is not None
        return await self.handler.on_job_end(job)


def _stand_for(handler: type[JobHandler[Any, Any, Any]], timings: _Timings) -> _Stand:
    attributes = {name: getattr(handler, name) for name in ("command", "options_model", "step_model", "data_model")}
    stand: _Stand = type(f"Stand{handler.__name__}", (_Stand,), attributes)(timings)
    return stand


class InProcessJanitor:
    """The janitor service of one test, with stand-ins for its commands (see the module's docstring)."""

    def __init__(self, tap: EventTap, app: Any, stands: dict[str, _Stand], timings: _Timings) -> None:
        self.tap, self.app, self.stands, self.timings = tap, app, stands, timings

    async def run_job(
        self, handler: JobHandler[Any, Any, Any], options: Options, *, hook: Hook | None = None, timeout: float = 300
    ) -> JobRun:
        """Publish a command for `handler`'s job, wait for its end, and read what it left."""
        stand = self.stands[handler.command]
        stand.handler, stand.hook = handler, hook
        job_id = await self.tap.start(options, command=handler.command)
        final = await self.tap.until(job_id, FINAL, timeout=timeout)
        events = self.tap.of(job_id)
        async with self.app.state.runtime.pool.acquire() as conn:
            job = await conn.fetchrow(f"SELECT * FROM {SCHEMA}.jobs WHERE job_id = $1", job_id)
            steps = await conn.fetch(
                f"SELECT step_no, payload FROM {SCHEMA}.job_steps WHERE job_id = $1 ORDER BY step_no", job_id
            )
        assert job is not None, f"no job row: {final.message}"
        progress = [e for e in events if e.type == "progress"]
        return JobRun(
            status=final.type.value, total=job["total"], succeeded=job["succeeded"], failed=job["failed"],
            skipped=job["skipped"], data=dict(job["data"]),
            messages=[e.message for e in progress if "step" in e.detail],
            payloads=[dict(s["payload"]) for s in steps],
            transaction_ms=[self.timings.of(job_id, s["step_no"]) for s in steps
                            if (job_id, s["step_no"]) in self.timings.committed],
            retries=sum(1 for e in progress if "waiting_s" in e.detail),
            error=job["error"], summary=final.message,
        )


@asynccontextmanager
async def in_process_janitor(amqp_url: str, database_url: str) -> AsyncIterator[InProcessJanitor]:
    """The janitor service (its migrations, ferry's runtime) in this event loop until exit."""
    timings = _Timings()
    stands = {h.command: _stand_for(h, timings) for h in (ClearJob, SeedDemoJob)}

    @asynccontextmanager
    async def lifespan(_ctx: ServiceContext[JanitorSettings]) -> AsyncIterator[Handlers]:
        yield list(stands.values())

    service = JobServiceSpec(SERVICE, spec().migrations, lifespan, settings_model=JanitorSettings)
    app = create_app(service, JanitorSettings(amqp_url=amqp_url, database_url=database_url))  # type: ignore[arg-type]
    infra = Infra(amqp_url, database_url)
    async with app.router.lifespan_context(app), EventTap.open(infra, SERVICE) as tap:
        yield InProcessJanitor(tap, app, stands, timings)
