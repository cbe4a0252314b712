"""Schedules in Postgres, fired exactly once per due time by however many replicas run.

Every replica ticks (`FERRY_STATUS_SCHEDULER_TICK_S`). A tick claims one due schedule at a time
with `FOR UPDATE SKIP LOCKED`, and in that same transaction records the due time in
`schedule_fires` (primary key: schedule and due time), records the job as pending, publishes its
command (confirmed by the broker) and moves `next_due` on; then it commits. Another replica skips
the locked row, and sees the new `next_due` once it commits. A replica killed mid-tick rolls back
and unlocks, and the next replica fires the same due time with the same job id (derived from the
schedule and the due time), so even a command published twice runs once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import structlog

from ferry.contracts import FINISHED_STATUSES, Command, JobStatus
from ferry_status import timing
from ferry_status.store import JOBS, SCHEDULES, SCHEMA, Executor

log = structlog.get_logger(__name__)
FIRES = f'"{SCHEMA}".schedule_fires'
Publish = Callable[[str, bytes, str], Awaitable[None]]
"""(routing key, body, message id): publishes a command, confirmed, or raises."""

_FINISHED = [s.value for s in FINISHED_STATUSES]


async def create(
    conn: Executor, *, schedule_id: UUID, service: str, command: str, options: dict[str, Any], spec: str,
    timezone: str, catch_up: bool, overlap: str, paused: bool, created_by: str, now: datetime,
    notify_on: list[str] | None = None, notify_url: str | None = None,
) -> asyncpg.Record:
    cron = timing.to_cron(spec)
    next_due = timing.next_after(cron, timezone, now)
    row = await conn.fetchrow(
        f"INSERT INTO {SCHEDULES} (schedule_id, service, command, options, spec, cron, timezone, catch_up,"
        " overlap, paused, next_due, created_by, notify_on, notify_url)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING *",
        schedule_id, service, command, options, spec, cron, timezone, catch_up, overlap, paused, next_due, created_by,
        notify_on, notify_url,
    )
    assert row is not None
    return row


async def get(conn: Executor, schedule_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT * FROM {SCHEDULES} WHERE schedule_id = $1", schedule_id)


async def list_all(conn: Executor) -> list[asyncpg.Record]:
    return list(await conn.fetch(f"SELECT * FROM {SCHEDULES} ORDER BY created_at, schedule_id"))


async def delete(conn: Executor, schedule_id: UUID) -> bool:
    return await conn.fetchval(f"DELETE FROM {SCHEDULES} WHERE schedule_id = $1 RETURNING true", schedule_id) is True


async def set_paused(conn: Executor, schedule_id: UUID, paused: bool, now: datetime) -> asyncpg.Record | None:
    """Pause, or resume from `now`: the due times that passed while paused are not fired."""
    row = await get(conn, schedule_id)
    if row is None or row["paused"] == paused:
        return row
    next_due = row["next_due"] if paused else timing.next_after(row["cron"], row["timezone"], now)
    return await conn.fetchrow(
        f"UPDATE {SCHEDULES} SET paused = $2, next_due = $3, updated_at = now() WHERE schedule_id = $1 RETURNING *",
        schedule_id, paused, next_due,
    )


async def fires(conn: Executor, schedule_id: UUID) -> list[asyncpg.Record]:
    """What each due time of a schedule did, oldest first."""
    return list(await conn.fetch(f"SELECT * FROM {FIRES} WHERE schedule_id = $1 ORDER BY due_at", schedule_id))


class Scheduler:
    """Fires the due schedules; `tick(now)` is one pass, the clock is the caller's."""

    def __init__(self, pool: asyncpg.Pool, publish: Publish, *, grace_s: float, batch: int = 100) -> None:
        self._pool = pool
        self._publish = publish
        self._grace = timedelta(seconds=grace_s)
        self._batch = batch

    async def tick(self, now: datetime | None = None) -> int:
        """Fire (or skip) every schedule due at `now` (default: the real time); how many were handled."""
        now = now or datetime.now(UTC)
        handled = 0
        while handled < self._batch and await self._one(now):
            handled += 1
        return handled

    async def _one(self, now: datetime) -> bool:
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                f"SELECT * FROM {SCHEDULES} WHERE NOT paused AND next_due <= $1"
                " ORDER BY next_due LIMIT 1 FOR UPDATE SKIP LOCKED",
                now,
            )
            if row is None:
                return False
            dues, next_due = timing.dues_until(row["cron"], row["timezone"], row["next_due"], now)
            due = dues[-1]
            missed = due < now - self._grace
            if missed and not row["catch_up"]:
                outcome, job_id = "skipped_missed", None
            elif row["overlap"] == "skip" and await self._still_running(conn, row["last_job_id"]):
                outcome, job_id = "skipped_overlap", None
            else:
                outcome, job_id = "fired", timing.fired_job_id(row["schedule_id"], due)
            recorded = await conn.fetchval(
                f"INSERT INTO {FIRES} (schedule_id, due_at, outcome, job_id) VALUES ($1, $2, $3, $4)"
                " ON CONFLICT DO NOTHING RETURNING true",
                row["schedule_id"], due, outcome, job_id,
            )
            if recorded and job_id is not None:
                await self._fire(conn, row, due, job_id)
            await conn.execute(
                f"UPDATE {SCHEDULES} SET next_due = $2, last_due = $3,"
                " last_job_id = COALESCE($4, last_job_id), updated_at = now() WHERE schedule_id = $1",
                row["schedule_id"], next_due, due, job_id if recorded else None,
            )
        log.info("schedule due", schedule_id=str(row["schedule_id"]), due=due.isoformat(), outcome=outcome,
                 job_id=str(job_id) if job_id else None, missed_before=len(dues) - 1)
        return True

    async def _still_running(self, conn: Executor, job_id: UUID | None) -> bool:
        if job_id is None:
            return False
        status = await conn.fetchval(f"SELECT status FROM {JOBS} WHERE job_id = $1", job_id)
        return status is not None and status not in _FINISHED

    async def _fire(self, conn: Executor, row: asyncpg.Record, due: datetime, job_id: UUID) -> None:
        by = f"schedule:{row['schedule_id']}"
        await conn.execute(
            f"INSERT INTO {JOBS} (job_id, service, command, status, options, requested_by, schedule_id,"
            f" scheduled_time) VALUES ($1, $2, $3, '{JobStatus.PENDING.value}', $4, $5, $6, $7)"
            " ON CONFLICT (job_id) DO UPDATE SET schedule_id = EXCLUDED.schedule_id,"
            " scheduled_time = EXCLUDED.scheduled_time",
            job_id, row["service"], row["command"], row["options"], by, row["schedule_id"], due,
        )
        envelope = Command[Any](job_id=job_id, requested_by=by, options=row["options"])
        # Published while the row is locked: if this fails, the transaction rolls back and the due
        # time is tried again at the next tick (same job id).
        await self._publish(f"{row['service']}.{row['command']}", envelope.model_dump_json().encode(), str(job_id))
