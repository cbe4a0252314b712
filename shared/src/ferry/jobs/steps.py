"""Running one step: the transaction that calls the handler, checkpoints and stages what follows.

Locks are always taken in the same order, the step's row and then the job's row, and the job's
row only at the end of a step: steps of one job run in parallel, two steps ending at once are
serialised on the job row, and a job ended meanwhile (cancelled, failed) is seen by the others,
which close themselves keeping their effects (no deadlock, nothing counted after the end).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg
import structlog
from prometheus_client import Counter
from pydantic import TypeAdapter, ValidationError

from ferry import topology
from ferry.contracts import EventType, JobStatus
from ferry.db import Conn
from ferry.jobs.errors import ItemFailed, JobFailed, RetryLater
from ferry.jobs.infra import is_outage
from ferry.jobs.limits import RuntimeLimits
from ferry.jobs.model import PLAN, FinishedJob, ItemFailure, JobData, JobHandler, Step, StepMessage, StepResult
from ferry.jobs.store import JobRow, JobStore, OutboxMessage, make_events
from ferry.messaging import Publisher

log = structlog.get_logger(__name__)

HEARTBEAT_S = 2.0
"""A step running longer than this reports progress meanwhile (at least every 2 s)."""
HEARTBEAT_FAILURES = Counter("ferry_heartbeat_failures_total", "Heartbeats that could not be recorded", ["service"])

FINISHED = frozenset(s.value for s in (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED))
"""The states a job row ends in (`rejected` jobs never get a row)."""


def describe_invalid(exc: ValidationError, limit: int = 5) -> str:
    """A validation error in one line: `field: problem; ...`."""
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or 'body'}: {err['msg']}" for err in exc.errors()[:limit]
    )


def job_result(job: JobRow) -> dict[str, Any]:
    """The summary a finished job's last event carries: the handler's data, counts and duration.

    The duration runs from when the plan began to the end: the same span the status service shows.
    """
    duration = None
    if job["finished_at"] is not None:
        start = job["started_at"] or job["created_at"]
        duration = round((job["finished_at"] - start).total_seconds(), 3)
    counts = {k: job[k] for k in ("total", "processed", "succeeded", "failed", "skipped")}
    return {**job["data"], **counts, "duration_s": duration}


@dataclass
class RunningSteps:
    """The steps this process is running now, so a resource can say what they wait for."""

    steps: dict[int, Step[Any, Any, Any]] = field(default_factory=dict)
    status: str = ""
    """What every step waits for now (e.g. the rate limiter); a step started meanwhile says so too."""

    def set_status(self, status: str) -> None:
        self.status = status
        for step in self.steps.values():
            step.status = status

    def add(self, step: Step[Any, Any, Any]) -> None:
        step.status = step.status or self.status
        self.steps[id(step)] = step


class StepRunner:
    """Runs steps of one service's jobs inside their transactions; returns what to publish."""

    def __init__(
        self, service: str, handlers: dict[str, JobHandler[Any, Any, Any]], store: JobStore,
        publisher: Publisher, pool: asyncpg.Pool, limits: RuntimeLimits, running: RunningSteps,
    ) -> None:
        self.service, self.handlers, self.store = service, handlers, store
        self.publisher, self.pool, self.limits, self.running = publisher, pool, limits, running
        self.step_queue = topology.step_queue(service).name
        self._payloads = {c: TypeAdapter(h.step_model) for c, h in handlers.items()}

    # -- one step -----------------------------------------------------------------------
    async def run(self, message: StepMessage, redelivered: int, *, broken: str = "") -> list[OutboxMessage]:
        """Run the step (or, with `broken`, count it as a failed item with that reason)."""
        async with self.pool.acquire() as conn, conn.transaction():
            return await self._run(conn, message, redelivered, broken)

    async def _run(self, conn: Conn, message: StepMessage, redelivered: int, broken: str) -> list[OutboxMessage]:
        job = await self.store.lock_step(conn, message.job_id, message.step_no)
        if job is None or job["step_done"]:
            return []  # already done (a duplicate delivery) or dropped with its job
        if job["state"] in FINISHED:
            await self.store.finish_step(conn, message.job_id, message.step_no)
            return []
        if job["cancel_requested"]:
            return await self.end(conn, job, JobStatus.CANCELLED, "cancelled on request", own_step=message.step_no)
        handler = self.handlers.get(job["command"])
        if handler is None:
            return await self.end(conn, job, JobStatus.FAILED, f"this worker has no {job['command']!r} command",
                                  own_step=message.step_no)
        try:
            options = handler.options_model.model_validate(job["options"])
        except ValidationError as exc:
            reason = f"needs a newer worker: the job's stored options do not validate here ({describe_invalid(exc)})"
            return await self.end(conn, job, JobStatus.FAILED, reason, own_step=message.step_no)
        try:
            data = handler.data_model.model_validate(job["data"])
        except ValidationError as exc:
            return await self.end(conn, job, JobStatus.FAILED, _unreadable_data(exc), own_step=message.step_no)
        try:
            stored = job["step_payload"]
            payload = PLAN if message.step_no == 0 else self._payloads[job["command"]].validate_python(stored)
        except ValidationError as exc:
            reason = f"step {message.step_no} has an invalid payload: {describe_invalid(exc)}"
            return await self.end(conn, job, JobStatus.FAILED, reason, own_step=message.step_no)
        step: Step[Any, Any, Any] = Step(
            job_id=job["job_id"], command=job["command"], options=options, step_no=message.step_no,
            payload=payload, attempt=message.attempt + redelivered, data=data, total=job["total"], conn=conn,
        )
        if broken:
            result: StepResult[Any, Any] = StepResult(
                failed=1, failures=[ItemFailure(broken, item=f"step {step.step_no}")]
            )
        else:
            try:
                result = await self._call(handler, step)
            except RetryLater as retry:
                return await self._park(conn, job, message, retry)
            except JobFailed as failure:
                return await self.end(conn, job, JobStatus.FAILED, str(failure), own_step=message.step_no)
            except ItemFailed as failure:
                result = StepResult(failed=1, failures=[ItemFailure(str(failure), failure.item, failure.detail)])
        return await self._apply(conn, job, handler, step, result)

    async def _call(self, handler: JobHandler[Any, Any, Any], step: Step[Any, Any, Any]) -> StepResult[Any, Any]:
        """Run the handler in a savepoint (a failed item's effects are undone), with heartbeats."""
        heartbeat = asyncio.create_task(self._heartbeat(step))
        self.running.add(step)
        try:
            async with asyncio.timeout(self.limits.step_timeout_s), step.conn.transaction():
                if step.is_plan:
                    return await handler.plan(step)
                return await handler.run_step(step)
        except TimeoutError as exc:
            waiting = f" ({step.status})" if step.status else ""
            # Parked, not counted: what it waited for (a limiter, a lock) may be back soon; it waits
            # about as long as it ran, at least the shortest parking tier, at most 30 s.
            raise RetryLater(min(30.0, self.limits.step_timeout_s),
                             f"step ran longer than {self.limits.step_timeout_s:g}s{waiting}") from exc
        except Exception as exc:
            if is_outage(exc) or isinstance(exc, RetryLater | JobFailed | ItemFailed):
                raise
            raise ItemFailed(f"{type(exc).__name__}: {exc}", item=f"step {step.step_no}") from exc
        finally:
            self.running.steps.pop(id(step), None)
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat

    async def _heartbeat(self, step: Step[Any, Any, Any]) -> None:
        """Report progress while a long step runs; a lost heartbeat is harmless, so no outbox."""
        started = time.monotonic()
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            try:
                async with self.pool.acquire() as conn:
                    job = await self.store.advance(conn, step.job_id, events=1)
                assert job is not None
                elapsed = time.monotonic() - started
                what = step.status or "working"
                message = f"step {step.step_no}: {what} ({elapsed:.0f}s so far)"
                events = make_events(self.service, job, [(EventType.PROGRESS, message, {"heartbeat": True})])
                await self.publisher.event(events[0])
            except Exception as exc:  # the step goes on; the next beat tries again
                HEARTBEAT_FAILURES.labels(self.service).inc()
                log.warning("heartbeat not recorded", job_id=str(step.job_id), step=step.step_no, error=repr(exc))

    # -- applying a result --------------------------------------------------------------
    async def _apply(
        self, conn: Conn, job: JobRow, handler: JobHandler[Any, Any, Any], step: Step[Any, Any, Any],
        result: StepResult[Any, Any],
    ) -> list[OutboxMessage]:
        """Checkpoint the step and apply its result to the job.

        Parallel steps of the job queue on its row from the `advance` on until they commit, so
        everything that does not need the row is done before: the step's own row is marked done
        (this transaction holds it already) and the events are prepared.
        """
        await self.store.finish_step(conn, job["job_id"], step.step_no)
        specs: list[tuple[EventType, str, dict[str, Any]]] = []
        if job["state"] == "pending":
            specs.append((EventType.STARTED, f"started {job['command']}", {}))
        specs += [(EventType.ITEM_FAILED, f.message, {"item": f.item, **f.detail}) for f in result.failures]
        specs.append((EventType.PROGRESS, result.message, {"step": step.step_no}))
        changed = _changed_fields(step.data, result.data)
        children = [c.model_dump(mode="json") for c in result.children]
        updated = await self.store.advance(
            conn, job["job_id"], events=len(specs), state="running", succeeded=result.succeeded,
            failed=result.failed, skipped=result.skipped, total=result.total, add_total=result.add_total,
            new_steps=len(children), steps_done=1, data=changed, unless_finished=True,
        )
        if updated is None:
            # The job ended while this step ran (cancelled, failed): keep what the step did (a
            # fetched item is not fetched again by the next job) but count nothing after the end.
            return []
        first_no = updated["steps_total"] - len(children)
        numbers = await self.store.add_steps(conn, job["job_id"], step.step_no, first_no, children)
        events = make_events(self.service, updated, specs)
        if events[0].type is EventType.STARTED:  # when the plan began, as the job row says
            events[0] = events[0].model_copy(update={"at": updated["started_at"]})
        staged = [*map(OutboxMessage.event, events)]
        staged += [self.step_message(job["job_id"], n) for n in numbers]
        await self.store.stage(conn, staged)
        if updated["steps_done"] == updated["steps_total"]:
            staged += await self._finish(conn, updated, handler, JobStatus.COMPLETED, None)
        return staged

    async def _park(self, conn: Conn, job: JobRow, message: StepMessage, retry: RetryLater) -> list[OutboxMessage]:
        """Put the step in a parking queue; it comes back when the wait is over (capped)."""
        now = datetime.now(UTC)
        since = message.parked_since or now
        waited_s = (now - since).total_seconds()
        if message.attempt > self.limits.max_park_attempts or waited_s > self.limits.max_park_s:
            reason = (
                f"gave up on step {message.step_no} after {message.attempt} waits over {waited_s / 3600:.1f} h "
                f"(limits: {self.limits.max_park_attempts} waits, {self.limits.max_park_s / 3600:g} h): {retry.reason}"
            )
            return await self.end(conn, job, JobStatus.FAILED, reason, own_step=message.step_no)
        tier = topology.wait_tier(retry.seconds)
        updated = await self.store.advance(conn, job["job_id"], events=1)
        assert updated is not None
        detail = {"waiting_s": tier, "reason": retry.reason, "attempt": message.attempt}
        specs = [(EventType.PROGRESS, f"waiting {tier}s: {retry.reason}", detail)]
        again = message.model_copy(update={"attempt": message.attempt + 1, "parked_since": since})
        parked = OutboxMessage.step(topology.wait_queue(self.service, tier).name, again)
        staged = [*map(OutboxMessage.event, make_events(self.service, updated, specs)), parked]
        await self.store.stage(conn, staged)
        return staged

    # -- the end of a job ---------------------------------------------------------------
    async def end(
        self, conn: Conn, job: JobRow, state: JobStatus, reason: str, *, own_step: int | None = None
    ) -> list[OutboxMessage]:
        """End the job early (cancelled or failed); its other steps are closed, or close themselves."""
        locked = await self.store.get(conn, job["job_id"], lock=True)
        if own_step is not None:
            await self.store.finish_step(conn, job["job_id"], own_step)
        if locked is None or locked["state"] in FINISHED:
            return []
        await self.store.close_open_steps(conn, job["job_id"])
        handler = self.handlers.get(locked["command"])
        error = None if state is JobStatus.CANCELLED else reason
        return await self._finish(conn, locked, handler, state, error, message=reason)

    async def _finish(
        self, conn: Conn, job: JobRow, handler: JobHandler[Any, Any, Any] | None, state: JobStatus,
        error: str | None, *, message: str = "",
    ) -> list[OutboxMessage]:
        """The one place a job ends: the handler's summary, then the final event."""
        failures: list[ItemFailure] = []
        data: dict[str, Any] = {}
        if handler is not None:
            try:
                stored = handler.data_model.model_validate(job["data"] or {})
            except ValidationError as exc:
                # Never strand the job over it: end it failed with the reason, summed up on the
                # data model's defaults (every JobData field has one).
                stored = handler.data_model()
                if state is JobStatus.COMPLETED:
                    state, error = JobStatus.FAILED, _unreadable_data(exc)
                    message = error
            summary, failures, data = await self._summary(conn, job, handler, stored, state, error)
            if state is JobStatus.COMPLETED:
                message = summary  # an early end keeps its reason as the message
        specs: list[tuple[EventType, str, dict[str, Any]]] = [
            (EventType.ITEM_FAILED, f.message, {"item": f.item, **f.detail}) for f in failures
        ]
        done = await self.store.advance(
            conn, job["job_id"], events=len(specs) + 1, state=state.value, error=error, data=data
        )
        assert done is not None
        final = EventType(state.value)
        specs.append((final, message or state.value, {"result": job_result(done), "error": error}))
        events = make_events(self.service, done, specs)
        events[-1] = events[-1].model_copy(update={"at": done["finished_at"]})  # one duration everywhere
        staged = [*map(OutboxMessage.event, events)]
        await self.store.stage(conn, staged)
        return staged

    async def _summary(
        self, conn: Conn, job: JobRow, handler: JobHandler[Any, Any, Any], data: JobData, state: JobStatus,
        error: str | None,
    ) -> tuple[str, list[ItemFailure], dict[str, Any]]:
        """`on_job_end` in a savepoint: a summary that fails still ends the job."""
        try:
            options = handler.options_model.model_validate(job["options"])
        except ValidationError:
            options = None
        finished = FinishedJob(
            job_id=job["job_id"], command=job["command"], state=state, options=options, data=data,
            total=job["total"], processed=job["processed"], succeeded=job["succeeded"], failed=job["failed"],
            skipped=job["skipped"], error=error, conn=conn,
        )
        try:
            async with conn.transaction():
                summary = await handler.on_job_end(finished)
        except Exception as exc:
            if is_outage(exc):
                raise
            log.exception("on_job_end raised", job_id=str(job["job_id"]))
            return f"{state.value} (its summary failed: {type(exc).__name__}: {exc})", [], {}
        return summary.message, summary.failures, _changed_fields(data, summary.data)

    def step_message(self, job_id: UUID, step_no: int) -> OutboxMessage:
        return OutboxMessage.step(self.step_queue, StepMessage(job_id=job_id, step_no=step_no))


def _unreadable_data(exc: ValidationError) -> str:
    return f"needs a newer worker: the job's stored data does not validate here ({describe_invalid(exc)})"


def _changed_fields(before: JobData, after: JobData | None) -> dict[str, Any]:
    """The fields `after` changed, as JSON: stored with `||`, so parallel steps keep each other's."""
    if after is None:
        return {}
    old, new = before.model_dump(mode="json"), after.model_dump(mode="json")
    return {k: v for k, v in new.items() if k not in old or old[k] != v}
