"""The job runtime: turns command and step deliveries into checkpointed, reported work.

A command is recorded as a job (keyed by `job_id`, so a duplicate is dropped) with its plan
step, and acknowledged. Each step runs in one transaction that also marks it done, applies its
counters and stages its events and follow-up steps in the outbox (`steps.StepRunner`); the
outbox is published once the transaction commits (and by the relay if the process died first);
the delivery is acknowledged at the commit, before that publishing, so its slot is free sooner.
A crash therefore replays only the step in flight, and nothing is counted twice.

Every delivery is settled, whatever happens (docs/jobs.md, "When things go wrong"):

    bad body, unknown command, invalid options, expired   dead-lettered with a reason, `rejected`
    Postgres/RabbitMQ outage                               waited out, then parked (never a failure)
    handler's RetryLater                                   parked, capped in waits and total time
    a step delivered again and again, never settled        counted as a failed item ("broken")
    a step the broker dead-letters                         its job fails with the reason
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg
import structlog
from pydantic import ValidationError

from ferry import topology
from ferry.contracts import CANCEL, CancelCommand, Command, EventType, JobEvent, JobStatus
from ferry.jobs.delivery import Delivery, Outcome, Verdict, dead_letter, republish, send
from ferry.jobs.infra import is_outage, outlast_outage
from ferry.jobs.limits import RuntimeLimits
from ferry.jobs.model import JobHandler, StepMessage
from ferry.jobs.outbox import Outbox
from ferry.jobs.steps import RunningSteps, StepRunner, describe_invalid
from ferry.jobs.store import JobStore, OutboxMessage, make_events
from ferry.messaging import Publisher

log = structlog.get_logger(__name__)


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
        self, service: str, handlers: Sequence[JobHandler[Any, Any, Any]], pool: asyncpg.Pool, publisher: Publisher,
        limits: RuntimeLimits | None = None, running: RunningSteps | None = None,
    ) -> None:
        self.service = service
        self.handlers = {h.command: h for h in handlers}
        self.pool = pool
        self.publisher = publisher
        self.limits = limits or RuntimeLimits()
        self.store = JobStore(service)
        self.outbox = Outbox(pool, self.store, publisher)
        self.steps = StepRunner(service, self.handlers, self.store, publisher, pool, self.limits,
                                running or RunningSteps())

    # -- commands ---------------------------------------------------------------------
    async def on_command(self, delivery: Delivery) -> Outcome:
        """Record a job (or a cancel request); invalid commands are dead-lettered with a reason."""
        try:
            return await self._command(delivery)
        except Rejected as rejected:
            await self._reject(delivery, rejected)
            return ACKED

    async def _command(self, delivery: Delivery) -> Outcome:
        command = delivery.routing_key.removeprefix(f"{self.service}.")
        if command == CANCEL:
            cancel = self._parse(CancelCommand, delivery.body, command)
            if not await self._outlast(delivery, "record cancel", lambda: self._request_cancel(cancel.job_id)):
                return ACKED
            log.info("cancel requested", job_id=str(cancel.job_id), requested_by=cancel.requested_by)
            return ACKED
        handler = self.handlers.get(command)
        if handler is None:
            known = ", ".join(sorted([*self.handlers, CANCEL]))
            raise Rejected(f"unknown command {command!r} for {self.service}; known: {known}", _job_id_of(delivery.body))
        envelope: Command[Any] = self._parse(Command[handler.options_model], delivery.body, command)  # type: ignore[name-defined]
        age_s = (datetime.now(UTC) - envelope.requested_at).total_seconds()
        if age_s > self.limits.command_ttl_s:
            raise Rejected(
                f"expired: requested at {envelope.requested_at.isoformat()}, {age_s:.0f}s ago; commands older than "
                f"FERRY_COMMAND_TTL_S={self.limits.command_ttl_s:g}s are not run",
                envelope.job_id, command,
            )
        recorded: list[list[OutboxMessage] | None] = []

        async def record() -> None:
            recorded.append(await self._record_job(command, envelope))

        if not await self._outlast(delivery, "record job", record):
            return ACKED
        if recorded == [None]:
            log.info("duplicate command dropped", job_id=str(envelope.job_id), command=command)
        return Outcome(Verdict.ACK, recorded[-1] or [])

    async def _outlast(self, delivery: Delivery, what: str, call: Any) -> bool:
        """Run `call` through a short outage; past the wait, put the command back at the end of its
        queue (a new message, so the outage does not use up its delivery limit). False if so."""
        try:
            await outlast_outage(what, call, max_wait_s=self.limits.outage_wait_s)
            return True
        except Exception as exc:
            if not is_outage(exc):
                raise
            log.warning("outage outlasted the wait; command put back", what=what, error=repr(exc))
            await asyncio.sleep(1)
            await republish(self.publisher, delivery, exchange=topology.COMMANDS.name)
            return False

    def _parse(self, model: Any, body: bytes, command: str) -> Any:
        try:
            return model.model_validate_json(body)
        except ValidationError as exc:
            problems = describe_invalid(exc)
            raise Rejected(f"invalid {self.service}.{command} message: {problems}", _job_id_of(body), command) from exc

    async def _record_job(self, command: str, envelope: Command[Any]) -> list[OutboxMessage] | None:
        """The job and its plan step, committed; what to publish (None: the job id is known already)."""
        options = envelope.options.model_dump(mode="json")
        async with self.pool.acquire() as conn, conn.transaction():
            job = await self.store.insert_job(
                conn, envelope.job_id, command, options, envelope.requested_by, envelope.requested_at
            )
            if job is None:
                return None
            job = await self.store.advance(conn, envelope.job_id, events=1)
            assert job is not None
            detail = {"options": options, "requested_by": envelope.requested_by}
            accepted = make_events(self.service, job, [(EventType.ACCEPTED, f"accepted {command}", detail)])
            staged = [*map(OutboxMessage.event, accepted), self.steps.step_message(envelope.job_id, 0)]
            await self.store.stage(conn, staged)
        return staged

    async def _request_cancel(self, job_id: UUID) -> None:
        async with self.pool.acquire() as conn:
            await self.store.request_cancel(conn, job_id)

    async def _reject(self, delivery: Delivery, rejected: Rejected) -> None:
        log.warning("message rejected", reason=rejected.reason, routing_key=delivery.routing_key)
        await dead_letter(self.publisher, delivery, reason=rejected.reason, service=self.service)
        if rejected.job_id is not None:
            event = JobEvent(
                job_id=rejected.job_id, service=self.service, command=rejected.command or "?",
                type=EventType.REJECTED, seq=0, message=rejected.reason[:2000], detail={"reason": rejected.reason},
            )
            await self.publisher.event(event)

    # -- steps ------------------------------------------------------------------------
    async def on_step(self, delivery: Delivery) -> Outcome:
        try:
            message = StepMessage.model_validate_json(delivery.body)
        except ValidationError as exc:
            await self._reject(delivery, Rejected(f"invalid step message: {describe_invalid(exc)}"))
            return ACKED
        deliveries = delivery.redelivered_count + 1
        if deliveries >= self.limits.broken_after_deliveries:
            # Delivered this often and never settled: its process died each time (out of memory?).
            reason = f"step {message.step_no} was delivered {deliveries} times and never finished (its worker died?)"
            return await self._settle_broken(delivery, message, reason)
        try:
            staged = await outlast_outage(
                "run step", lambda: self.steps.run(message, delivery.redelivered_count),
                max_wait_s=self.limits.outage_wait_s,
            )
        except Exception as exc:
            if is_outage(exc):
                return await self._park_through_outage(message, exc)
            if deliveries < self.limits.unexpected_error_attempts:
                log.exception("step raised; it will be retried", job_id=str(message.job_id), step=message.step_no)
                await asyncio.sleep(0.5 * deliveries)
                return Outcome(Verdict.REQUEUE)
            log.exception("step raised repeatedly; counted as a failed item", job_id=str(message.job_id))
            return await self._settle_broken(
                delivery, message, f"step {message.step_no} kept failing: {type(exc).__name__}: {exc}"
            )
        return Outcome(Verdict.ACK, staged)

    async def _park_through_outage(self, message: StepMessage, exc: BaseException) -> Outcome:
        """Postgres stayed away longer than the wait: park the step (growing waits), never fail it."""
        tier = topology.WAIT_TIERS_S[min(message.outages, len(topology.WAIT_TIERS_S) - 1)]
        log.warning("outage outlasted the wait; step parked", job_id=str(message.job_id), step=message.step_no,
                    wait_s=tier, error=repr(exc))
        again = message.model_copy(update={"outages": message.outages + 1})
        await send(self.publisher, OutboxMessage.step(topology.wait_queue(self.service, tier).name, again))
        return ACKED

    async def _settle_broken(self, delivery: Delivery, message: StepMessage, reason: str) -> Outcome:
        """Count the step as a failed item; if even that fails, dead-letter it (its job fails)."""
        try:
            staged = await outlast_outage(
                "count broken step", lambda: self.steps.run(message, 0, broken=reason),
                max_wait_s=self.limits.outage_wait_s,
            )
        except Exception as exc:
            if is_outage(exc):
                return await self._park_through_outage(message, exc)
            log.exception("broken step could not be counted; dead-lettered", job_id=str(message.job_id))
            await dead_letter(self.publisher, delivery, reason=f"{reason}; then {type(exc).__name__}: {exc}",
                              service=self.service)
            await self.fail_job(message.job_id, reason)
            return ACKED
        return Outcome(Verdict.ACK, staged)

    async def on_dead_step(self, delivery: Delivery) -> Outcome:
        """A step the broker dead-lettered (its delivery limit reached): fail its job with the reason."""
        if delivery.headers.get("x-ferry-reason"):
            return ACKED  # ferry dead-lettered it itself and has already dealt with its job
        try:
            message = StepMessage.model_validate_json(delivery.body)
        except ValidationError:
            return ACKED
        reason = delivery.headers.get("x-first-death-reason") or "delivery limit"
        await self.fail_job(message.job_id, f"step {message.step_no} was dead-lettered by the broker ({reason})")
        return ACKED

    async def fail_job(self, job_id: UUID, reason: str) -> None:
        """End a job as failed from outside a step (best effort: logged when impossible)."""
        try:
            async with self.pool.acquire() as conn, conn.transaction():
                job = await self.store.get(conn, job_id)
                staged = [] if job is None else await self.steps.end(conn, job, JobStatus.FAILED, reason)
            await self.publish_committed(staged)
        except Exception:
            log.exception("could not mark the job failed", job_id=str(job_id), reason=reason)

    async def publish_committed(self, staged: Sequence[OutboxMessage]) -> None:
        """Publish committed outbox messages; never raises (the relay publishes what is left)."""
        try:
            await self.outbox.flush(staged)
        except Exception as exc:
            log.warning("outbox flush failed; the relay will publish", error=repr(exc), messages=len(staged))


ACKED = Outcome(Verdict.ACK)
"""Settled, nothing left to publish."""


def _job_id_of(body: bytes) -> UUID | None:
    """The job id of a message that failed validation, when one can be read."""
    try:
        return UUID(str(json.loads(body)["job_id"]))
    except (ValueError, TypeError, KeyError, UnicodeDecodeError):
        return None
