"""SQL of the job runtime, bound to one service's schema. Every method takes the connection
(and so the transaction) it must run in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import asyncpg

from ferry.contracts import EventType, JobEvent
from ferry.db import Conn, schema_name
from ferry.jobs.model import PLAN, StepMessage
from ferry.topology import EVENTS

EVENTS_EXCHANGE = EVENTS.name

JobRow = asyncpg.Record


_UNLESS_FINISHED = " AND state NOT IN ('completed', 'failed', 'cancelled')"


class JobStore:
    def __init__(self, service: str) -> None:
        self.service = service
        s = f'"{schema_name(service)}"'
        self._jobs, self._steps, self._outbox = f"{s}.jobs", f"{s}.job_steps", f"{s}.outbox"

    # -- jobs ---------------------------------------------------------------------------
    async def insert_job(
        self, conn: Conn, job_id: UUID, command: str, options: dict[str, Any],
        requested_by: str, requested_at: datetime,
    ) -> JobRow | None:
        """Record a new job with its plan step (step 0); None if the job id is already known.

        A cancel that arrived before its command left a placeholder (command ''): it is filled
        in, keeping `cancel_requested`, so the plan step finds the job cancelled.
        """
        row = await conn.fetchrow(
            f"INSERT INTO {self._jobs} AS j (job_id, command, options, requested_by, requested_at, state, steps_total)"
            " VALUES ($1, $2, $3, $4, $5, 'pending', 1)"
            " ON CONFLICT (job_id) DO UPDATE SET command = $2, options = $3, requested_by = $4, requested_at = $5,"
            " steps_total = 1 WHERE j.command = '' RETURNING *",
            job_id, command, options, requested_by, requested_at,
        )
        if row is None:
            return None
        await conn.execute(
            f"INSERT INTO {self._steps} (job_id, step_no, payload) VALUES ($1, 0, $2) ON CONFLICT DO NOTHING",
            job_id, PLAN.model_dump(mode="json"),
        )
        return row

    async def get(self, conn: Conn, job_id: UUID, *, lock: bool = False) -> JobRow | None:
        return await conn.fetchrow(
            f"SELECT * FROM {self._jobs} WHERE job_id = $1{' FOR UPDATE' if lock else ''}", job_id
        )

    async def request_cancel(self, conn: Conn, job_id: UUID) -> JobRow:
        """Flag the job for cancellation (creating a placeholder if its command is not here yet)."""
        row = await conn.fetchrow(
            f"INSERT INTO {self._jobs} (job_id, command, state, cancel_requested) VALUES ($1, '', 'pending', true)"
            " ON CONFLICT (job_id) DO UPDATE SET cancel_requested = true RETURNING *",
            job_id,
        )
        assert row is not None
        return row

    async def advance(
        self, conn: Conn, job_id: UUID, *, events: int, state: str | None = None,
        succeeded: int = 0, failed: int = 0, skipped: int = 0, total: int | None = None, add_total: int = 0,
        new_steps: int = 0, steps_done: int = 0, data: dict[str, Any] | None = None, error: str | None = None,
        unless_finished: bool = False,
    ) -> JobRow | None:
        """Apply counters and state to the job and reserve `events` sequence numbers.

        `started_at` is the start of the plan's transaction (when the job began, set once);
        `finished_at` the moment the job ends. The job's events carry these same times.
        With `unless_finished`, a job that has ended is left as it is (None): the one statement
        both waits for the job's row lock and checks the state it was released with. Without it
        the row is always there (the caller holds it, or just made it).
        """
        return await conn.fetchrow(
            f"UPDATE {self._jobs} SET"
            " seq = seq + $2,"
            " state = coalesce($3, state),"
            " succeeded = succeeded + $4, failed = failed + $5, skipped = skipped + $6,"
            " processed = processed + $4 + $5 + $6,"
            " total = CASE WHEN $7::bigint IS NOT NULL THEN $7::bigint"
            "              WHEN $8::bigint <> 0 THEN coalesce(total, 0) + $8::bigint ELSE total END,"
            " steps_total = steps_total + $9, steps_done = steps_done + $10,"
            " data = data || $11::jsonb,"
            " error = coalesce($12, error),"
            " started_at = CASE WHEN $3 = 'running' THEN coalesce(started_at, now()) ELSE started_at END,"
            " finished_at = CASE WHEN $3 IN ('completed', 'failed', 'cancelled') THEN clock_timestamp()"
            "                    ELSE finished_at END"
            f" WHERE job_id = $1{_UNLESS_FINISHED if unless_finished else ''} RETURNING *",
            job_id, events, state, succeeded, failed, skipped, total, add_total,
            new_steps, steps_done, data or {}, error,
        )

    # -- steps --------------------------------------------------------------------------
    async def lock_step(self, conn: Conn, job_id: UUID, step_no: int) -> JobRow | None:
        """Lock the step's row; its job's row (not locked) with the step's `step_done` and `step_payload`.

        One statement, as every step starts with it. None if the step is not there (dropped with its job).
        """
        return await conn.fetchrow(
            f"SELECT j.*, s.done AS step_done, s.payload AS step_payload FROM {self._steps} s"
            f" JOIN {self._jobs} j USING (job_id) WHERE s.job_id = $1 AND s.step_no = $2 FOR UPDATE OF s",
            job_id, step_no,
        )

    async def finish_step(self, conn: Conn, job_id: UUID, step_no: int) -> None:
        await conn.execute(
            f"UPDATE {self._steps} SET done = true, finished_at = now() WHERE job_id = $1 AND step_no = $2",
            job_id, step_no,
        )

    async def add_steps(
        self, conn: Conn, job_id: UUID, parent: int, first_no: int, payloads: list[dict[str, Any]]
    ) -> list[int]:
        numbers = list(range(first_no, first_no + len(payloads)))
        if not numbers:
            return numbers  # a round trip saved, as most steps have no children
        await conn.executemany(
            f"INSERT INTO {self._steps} (job_id, step_no, parent, payload) VALUES ($1, $2, $3, $4)",
            [(job_id, n, parent, p) for n, p in zip(numbers, payloads, strict=True)],
        )
        return numbers

    async def close_open_steps(self, conn: Conn, job_id: UUID) -> None:
        """Mark the job's remaining steps done (the job ended early), so deliveries are dropped.

        Steps another transaction is running are skipped (no lock wait, so no deadlock): when
        they finish they find the job ended and close themselves.
        """
        await conn.execute(
            f"UPDATE {self._steps} SET done = true, finished_at = now() WHERE (job_id, step_no) IN"
            f" (SELECT job_id, step_no FROM {self._steps} WHERE job_id = $1 AND NOT done FOR UPDATE SKIP LOCKED)",
            job_id,
        )

    # -- outbox -------------------------------------------------------------------------
    async def stage(self, conn: Conn, messages: list[OutboxMessage]) -> None:
        """Write messages to publish once the current transaction commits."""
        if messages:
            await conn.executemany(
                f"INSERT INTO {self._outbox} (message_id, exchange, routing_key, body) VALUES ($1, $2, $3, $4)",
                [(m.message_id, m.exchange, m.routing_key, m.body) for m in messages],
            )

    async def unsent(self, conn: Conn, older_than_s: float, limit: int = 500) -> list[OutboxMessage]:
        """Messages left behind (their process died before publishing), locked for this transaction."""
        rows = await conn.fetch(
            f"SELECT message_id, exchange, routing_key, body FROM {self._outbox}"
            " WHERE created_at < now() - make_interval(secs => $1)"
            " ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED",
            older_than_s, limit,
        )
        return [OutboxMessage(r["message_id"], r["exchange"], r["routing_key"], r["body"]) for r in rows]

    async def delete_sent(self, conn: Conn, message_ids: list[UUID]) -> None:
        if message_ids:
            await conn.execute(f"DELETE FROM {self._outbox} WHERE message_id = ANY($1::uuid[])", message_ids)


@dataclass(frozen=True)
class OutboxMessage:
    """A message staged in the outbox: `exchange` "" is the default exchange (work queues)."""

    message_id: UUID
    exchange: str
    routing_key: str
    body: dict[str, Any]

    @classmethod
    def event(cls, event: JobEvent) -> OutboxMessage:
        return cls(event.event_id, EVENTS_EXCHANGE, event.routing_key, event.model_dump(mode="json"))

    @classmethod
    def step(cls, queue: str, step: StepMessage) -> OutboxMessage:
        return cls(uuid4(), "", queue, step.model_dump(mode="json"))


def make_events(
    service: str, job: JobRow, specs: list[tuple[EventType, str, dict[str, Any]]]
) -> list[JobEvent]:
    """Events for `specs`, numbered with the sequence numbers `advance` just reserved."""
    first_seq = job["seq"] - len(specs) + 1
    now = datetime.now(UTC)
    return [
        JobEvent(
            job_id=job["job_id"], service=service, command=job["command"], type=etype, seq=first_seq + i, at=now,
            total=job["total"], processed=job["processed"], succeeded=job["succeeded"], failed=job["failed"],
            skipped=job["skipped"], message=message[:2000], detail=detail,
        )
        for i, (etype, message, detail) in enumerate(specs)
    ]
