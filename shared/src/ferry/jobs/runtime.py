"""The job runtime: turns command and step deliveries into checkpointed, reported work.

A command is recorded as a job (keyed by `job_id`, so a duplicate is dropped) with its plan
step, and acknowledged. Each step runs in one transaction that also marks it done, applies its
counters and stages its events and follow-up steps in the outbox; the outbox is published once
the transaction commits (and by the relay if the process died first). A crash therefore replays
only the step in flight, whose effects were rolled back, and nothing is counted twice. Every
delivery is acknowledged within one step's time, far below RabbitMQ's `consumer_timeout`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg
import structlog
from pydantic import ValidationError

from ferry import topology
from ferry.contracts import CANCEL, CancelCommand, Command, EventType, JobEvent
from ferry.db import Conn
from ferry.jobs.errors import ItemFailed, JobFailed, RetryLater
from ferry.jobs.infra import is_outage, outlast_outage
from ferry.jobs.model import ItemFailure, JobHandler, Step, StepMessage, StepResult
from ferry.jobs.outbox import Outbox
from ferry.jobs.publisher import Delivery, Publisher, Verdict
from ferry.jobs.store import JobRow, JobStore, OutboxMessage, make_events

log = structlog.get_logger(__name__)

FINISHED = ("completed", "failed", "cancelled")
UNEXPECTED_ERROR_ATTEMPTS = 3
"""Deliveries of a step that keeps raising an unexpected error before it counts as a failed item."""
HEARTBEAT_S = 2.0
"""A step running longer than this reports progress meanwhile (DESIGN §3: at least every 2 s)."""


class Rejected(Exception):
    """The delivery cannot be processed (unparseable, invalid, unknown command): dead-letter it."""

    def __init__(self, reason: str, job_id: UUID | None = None, command: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.job_id = job_id
        self.command = command


class JobRuntime:
    """Runs one service's jobs; handlers are looked up by command name."""

    def __init__(
        self, service: str, handlers: Sequence[JobHandler[Any]], pool: asyncpg.Pool, publisher: Publisher
    ) -> None:
        self.service = service
        self.handlers = {h.command: h for h in handlers}
        self.pool = pool
        self.publisher = publisher
        self.store = JobStore(service)
        self.outbox = Outbox(pool, self.store, publisher)
        self.step_queue = topology.step_queue(service).name

    # -- commands ---------------------------------------------------------------------
    async def on_command(self, delivery: Delivery) -> Verdict:
        """Record a job (or a cancel request); invalid commands are dead-lettered with a reason."""
        try:
            return await self._command(delivery)
        except Rejected as rejected:
            await self._reject(delivery, rejected)
            return Verdict.ACK

    async def _command(self, delivery: Delivery) -> Verdict:
        command = delivery.routing_key.removeprefix(f"{self.service}.")
        if command == CANCEL:
            cancel = self._parse(CancelCommand, delivery.body, command)
            await outlast_outage("record cancel", lambda: self._request_cancel(cancel.job_id))
            log.info("cancel requested", job_id=str(cancel.job_id), requested_by=cancel.requested_by)
            return Verdict.ACK
        handler = self.handlers.get(command)
        if handler is None:
            known = ", ".join(sorted([*self.handlers, CANCEL]))
            raise Rejected(f"unknown command {command!r} for {self.service}; known: {known}", _job_id_of(delivery.body))
        envelope = self._parse(Command[handler.options_model], delivery.body, command)  # type: ignore[name-defined]
        job = await outlast_outage("record job", lambda: self._record_job(command, envelope))
        if job is None:
            log.info("duplicate command dropped", job_id=str(envelope.job_id), command=command)
        return Verdict.ACK

    def _parse(self, model: Any, body: bytes, command: str) -> Any:
        try:
            return model.model_validate_json(body)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or 'body'}: {err['msg']}" for err in exc.errors()[:5]
            )
            raise Rejected(f"invalid {self.service}.{command} message: {problems}", _job_id_of(body), command) from exc

    async def _record_job(self, command: str, envelope: Command[Any]) -> JobRow | None:
        async with self.pool.acquire() as conn, conn.transaction():
            job = await self.store.insert_job(
                conn,
                envelope.job_id,
                command,
                envelope.options.model_dump(mode="json"),
                envelope.requested_by,
                envelope.requested_at,
            )
            if job is None:
                return None
            job = await self.store.advance(conn, envelope.job_id, events=1)
            accepted = make_events(
                self.service,
                job,
                [
                    (
                        EventType.ACCEPTED,
                        f"accepted {command}",
                        {
                            "options": envelope.options.model_dump(mode="json"),
                            "requested_by": envelope.requested_by,
                        },
                    )
                ],
            )
            staged = [*map(OutboxMessage.event, accepted), self._step_message(envelope.job_id, 0)]
            await self.store.stage(conn, staged)
        await self.outbox.flush(staged)
        return job

    async def _request_cancel(self, job_id: UUID) -> None:
        async with self.pool.acquire() as conn:
            await self.store.request_cancel(conn, job_id)

    async def _reject(self, delivery: Delivery, rejected: Rejected) -> None:
        log.warning("message rejected", reason=rejected.reason, routing_key=delivery.routing_key)
        await self.publisher.dead_letter(delivery, reason=rejected.reason, service=self.service)
        if rejected.job_id is not None:
            event = JobEvent(
                job_id=rejected.job_id,
                service=self.service,
                command=rejected.command or "?",
                type=EventType.REJECTED,
                seq=0,
                message=rejected.reason[:2000],
                detail={"reason": rejected.reason},
            )
            await self.publisher.publish(OutboxMessage.event(event))

    # -- steps ------------------------------------------------------------------------
    async def on_step(self, delivery: Delivery) -> Verdict:
        try:
            message = StepMessage.model_validate_json(delivery.body)
        except ValidationError as exc:
            await self._reject(delivery, Rejected(f"invalid step message: {exc.errors()[:3]}"))
            return Verdict.ACK
        try:
            staged = await outlast_outage("run step", lambda: self._run_step(message, delivery.redelivered_count))
        except Exception:
            if delivery.redelivered_count + 1 < UNEXPECTED_ERROR_ATTEMPTS:
                log.exception("step raised; it will be retried", job_id=str(message.job_id), step=message.step_no)
                await asyncio.sleep(0.5 * (delivery.redelivered_count + 1))
                return Verdict.REQUEUE
            log.exception("step failed repeatedly; counted as a failed item", job_id=str(message.job_id))
            staged = await outlast_outage("count failed step", lambda: self._run_step(message, 0, broken=True))
        await self.outbox.flush(staged)
        return Verdict.ACK

    async def _run_step(self, message: StepMessage, redelivered: int, *, broken: bool = False) -> list[OutboxMessage]:
        async with self.pool.acquire() as conn, conn.transaction():
            row = await self.store.lock_step(conn, message.job_id, message.step_no)
            if row is None or row["done"]:
                return []  # already done (a duplicate delivery) or dropped with its job
            job = await self.store.get(conn, message.job_id)
            assert job is not None
            if job["state"] in FINISHED:
                await self.store.finish_step(conn, message.job_id, message.step_no)
                return []
            if job["cancel_requested"]:
                return await self._end(conn, job, "cancelled", EventType.CANCELLED, "cancelled on request")
            handler = self.handlers[job["command"]]
            began = datetime.now(UTC)
            step = Step(
                job_id=job["job_id"],
                command=job["command"],
                options=handler.options_model.model_validate(job["options"]),
                step_no=message.step_no,
                payload=row["payload"],
                attempt=message.attempt + redelivered,
                data=job["data"],
                total=job["total"],
                conn=conn,
            )
            if broken:
                result = StepResult(failed=1, failures=[ItemFailure("step kept failing", item=f"step {step.step_no}")])
            else:
                try:
                    result = await self._call(handler, step)
                except RetryLater as retry:
                    return await self._park(conn, job, message, retry)
                except JobFailed as failure:
                    return await self._end(conn, job, "failed", EventType.FAILED, str(failure), error=str(failure))
                except ItemFailed as failure:
                    result = StepResult(failed=1, failures=[ItemFailure(str(failure), failure.item, failure.detail)])
            return await self._apply(conn, job, handler, message, result, began)

    async def _call(self, handler: JobHandler[Any], step: Step[Any]) -> StepResult:
        """Run the handler in a savepoint (a failed item's effects are undone), with heartbeats."""
        heartbeat = asyncio.create_task(self._heartbeat(step))
        try:
            async with step.conn.transaction():
                return await handler.run_step(step)
        except Exception as exc:
            if is_outage(exc) or isinstance(exc, RetryLater | JobFailed | ItemFailed):
                raise
            raise ItemFailed(f"{type(exc).__name__}: {exc}", item=f"step {step.step_no}") from exc
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat

    async def _heartbeat(self, step: Step[Any]) -> None:
        """Report progress while a long step runs; a lost heartbeat is harmless, so no outbox."""
        started = time.monotonic()
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            with contextlib.suppress(Exception):
                async with self.pool.acquire() as conn:
                    job = await self.store.advance(conn, step.job_id, events=1)
                elapsed = time.monotonic() - started
                message = step.status or f"step {step.step_no} running for {elapsed:.0f}s"
                events = make_events(self.service, job, [(EventType.PROGRESS, message, {"heartbeat": True})])
                await self.publisher.publish(OutboxMessage.event(events[0]))

    async def _apply(
        self, conn: Conn, job: JobRow, handler: JobHandler[Any], message: StepMessage, result: StepResult,
        began: datetime,
    ) -> list[OutboxMessage]:
        specs: list[tuple[EventType, str, dict[str, Any]]] = []
        if job["state"] == "pending":
            specs.append((EventType.STARTED, f"started {job['command']}", {}))
        specs += [(EventType.ITEM_FAILED, f.message, {"item": f.item, **f.detail}) for f in result.failures]
        specs.append((EventType.PROGRESS, result.message, {"step": message.step_no}))
        updated = await self.store.advance(
            conn,
            job["job_id"],
            events=len(specs),
            state="running",
            succeeded=result.succeeded,
            failed=result.failed,
            skipped=result.skipped,
            total=result.total,
            add_total=result.add_total,
            new_steps=len(result.children),
            steps_done=1,
            data=result.data,
        )
        await self.store.finish_step(conn, job["job_id"], message.step_no)
        first_no = updated["steps_total"] - len(result.children)
        numbers = await self.store.add_steps(conn, job["job_id"], message.step_no, first_no, result.children)
        events = make_events(self.service, updated, specs)
        if events[0].type is EventType.STARTED:  # it started when the plan began, not when it ended
            events[0] = events[0].model_copy(update={"at": began})
        staged = [*map(OutboxMessage.event, events)]
        staged += [self._step_message(job["job_id"], n) for n in numbers]
        if updated["steps_done"] == updated["steps_total"]:
            done = await self.store.advance(conn, job["job_id"], events=1, state="completed")
            line = handler.summary_line(dict(done))
            events = make_events(self.service, done, [(EventType.COMPLETED, line, {"result": _result(done)})])
            staged += map(OutboxMessage.event, events)
        await self.store.stage(conn, staged)
        return staged

    async def _park(self, conn: Conn, job: JobRow, message: StepMessage, retry: RetryLater) -> list[OutboxMessage]:
        """Put the step in a parking queue; it comes back when the wait is over."""
        tier = topology.wait_tier(retry.seconds)
        queue = topology.wait_queue(self.service, tier).name
        updated = await self.store.advance(conn, job["job_id"], events=1)
        events = make_events(
            self.service,
            updated,
            [
                (
                    EventType.PROGRESS,
                    f"waiting {tier}s: {retry.reason}",
                    {
                        "waiting_s": tier,
                        "reason": retry.reason,
                    },
                )
            ],
        )
        again = message.model_copy(update={"attempt": message.attempt + 1})
        staged = [*map(OutboxMessage.event, events), OutboxMessage.step(queue, again)]
        await self.store.stage(conn, staged)
        return staged

    async def _end(
        self, conn: Conn, job: JobRow, state: str, etype: EventType, message: str, error: str | None = None
    ) -> list[OutboxMessage]:
        """End the job early (cancelled or failed): its remaining steps are dropped when delivered."""
        await self.store.close_open_steps(conn, job["job_id"])
        done = await self.store.advance(conn, job["job_id"], events=1, state=state, error=error)
        events = make_events(self.service, done, [(etype, message, {"result": _result(done), "error": error})])
        staged = list(map(OutboxMessage.event, events))
        await self.store.stage(conn, staged)
        return staged

    def _step_message(self, job_id: UUID, step_no: int) -> OutboxMessage:
        return OutboxMessage.step(self.step_queue, StepMessage(job_id=job_id, step_no=step_no))


def _result(job: JobRow) -> dict[str, Any]:
    """The summary a finished job's last event carries: the handler's data, counts and duration."""
    duration = None
    if job["finished_at"] is not None:
        start = job["started_at"] or job["created_at"]
        duration = round((job["finished_at"] - start).total_seconds(), 3)
    counts = {k: job[k] for k in ("total", "processed", "succeeded", "failed", "skipped")}
    return {**job["data"], **counts, "duration_s": duration}


def _job_id_of(body: bytes) -> UUID | None:
    """The job id of a message that failed validation, when one can be read."""
    try:
        return UUID(str(json.loads(body)["job_id"]))
    except (ValueError, TypeError, KeyError):
        return None


Handler = Callable[[Delivery], Awaitable[Verdict]]
