"""SQL of the status service: events in, job rows out. Every function takes the pool or the
connection (and so the transaction) it runs in."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from ferry.contracts import FINISHED_STATUSES, STATUS_AFTER, EventType, JobEvent, JobStatus
from ferry.db import Migration, migrate, migrations_in, schema_name
from ferry_status import SERVICE

SCHEMA = schema_name(SERVICE)
EVENTS = f'"{SCHEMA}".events'
JOBS = f'"{SCHEMA}".jobs'
SCHEDULES = f'"{SCHEMA}".schedules'
NOTIFICATIONS = f'"{SCHEMA}".notifications'
Executor = asyncpg.Pool | asyncpg.Connection | PoolConnectionProxy

_FINISHED = "(" + ", ".join(sorted(f"'{s.value}'" for s in FINISHED_STATUSES)) + ")"
# An event is adopted as the job's latest state when it is newer than what the row holds, and it
# does not reopen a finished job (a finished status is only replaced by a newer finished one).
_ADOPT = f"(EXCLUDED.last_seq > j.last_seq AND (j.status NOT IN {_FINISHED} OR EXCLUDED.status IN {_FINISHED}))"
_LATEST = ("status", "total", "processed", "succeeded", "failed", "skipped", "last_seq", "message")


def _adopted(column: str, keep_old: bool = False) -> str:
    new = f"COALESCE(EXCLUDED.{column}, j.{column})" if keep_old else f"EXCLUDED.{column}"
    return f"{column} = CASE WHEN {_ADOPT} THEN {new} ELSE j.{column} END"


_STATUS_OF_TYPE = "CASE type " + " ".join(f"WHEN '{t}' THEN '{s}'" for t, s in STATUS_AFTER.items()) + " END"
BATCH_TABLE = "pg_temp.status_ingest_batch"
_BATCH_COLUMNS = (
    ("event_id", "uuid"), ("job_id", "uuid"), ("seq", "int4"), ("type", "text"), ("service", "text"),
    ("command", "text"), ("at", "timestamptz"), ("body", "text"), ("total", "int8"), ("processed", "int8"),
    ("succeeded", "int8"), ("failed", "int8"), ("skipped", "int8"), ("message", "text"), ("error", "text"),
    ("result", "text"), ("requested_by", "text"), ("options", "text"),
)
# The batch is copied (binary COPY: a few µs of client CPU an event, a third of what 18 parameter
# arrays cost) into a temporary table of the connection's own, emptied by the commit. The JSON
# columns travel as text: the pool's json codec would quote a string.
_CREATE_BATCH_TABLE = (
    f"CREATE TEMP TABLE IF NOT EXISTS {BATCH_TABLE.removeprefix('pg_temp.')}"
    f" ({', '.join(f'{name} {kind}' for name, kind in _BATCH_COLUMNS)}) ON COMMIT DELETE ROWS"
)

# Only the events' insert reads the bodies: the rest of the statement works on narrow rows (a
# 10,000-event batch then sorts in memory instead of spilling to disk).
_WRITE_EVENTS = f"""
WITH ins AS (
    INSERT INTO {EVENTS} (event_id, job_id, seq, type, service, command, at, body)
    SELECT event_id, job_id, seq, type, service, command, at, body::json FROM {BATCH_TABLE}
    ON CONFLICT (event_id) DO NOTHING
    RETURNING event_id
), fresh AS (  -- the events stored now (not redeliveries): the ones folded into their jobs
    SELECT job_id, seq, service, command, at, {_STATUS_OF_TYPE} AS status, total, processed, succeeded,
           failed, skipped, message, error, result, requested_by, options
    FROM {BATCH_TABLE} WHERE event_id IN (SELECT event_id FROM ins)
), span AS (
    SELECT job_id, min(at) AS first_at,
           min(at) FILTER (WHERE status = 'running') AS started_at,
           min(at) FILTER (WHERE status IN {_FINISHED}) AS finished_at,
           max(requested_by) AS requested_by, max(options) AS options
    FROM fresh GROUP BY job_id
), latest AS (
    SELECT DISTINCT ON (job_id) * FROM fresh ORDER BY job_id, seq DESC
), before AS (  -- the statement's snapshot: the status, before this batch, of each job it may finish
    SELECT j.job_id, j.status FROM latest l JOIN {JOBS} j USING (job_id) WHERE l.status IN {_FINISHED}
), up AS (
    INSERT INTO {JOBS} AS j (job_id, service, command, status, total, processed, succeeded, failed, skipped,
        last_seq, message, error, result, created_at, started_at, finished_at, updated_at, requested_by, options,
        last_event_at)
    SELECT l.job_id, l.service, l.command, l.status, l.total, l.processed, l.succeeded, l.failed, l.skipped,
        l.seq, l.message, l.error, l.result::jsonb, s.first_at, s.started_at, s.finished_at, now(),
        s.requested_by, s.options::jsonb, now()
    FROM latest l JOIN span s USING (job_id)
    ON CONFLICT (job_id) DO UPDATE SET
        {", ".join(_adopted(c) for c in _LATEST)},
        {_adopted("error", keep_old=True)}, {_adopted("result", keep_old=True)},
        created_at = LEAST(j.created_at, EXCLUDED.created_at),
        started_at = LEAST(j.started_at, EXCLUDED.started_at),
        finished_at = LEAST(j.finished_at, EXCLUDED.finished_at),
        requested_by = COALESCE(j.requested_by, EXCLUDED.requested_by),
        options = COALESCE(j.options, EXCLUDED.options),
        updated_at = now(), last_event_at = now()
    RETURNING j.job_id, j.status, j.service, j.schedule_id
), notify AS (
    -- A job this batch finished (its newest event here is a finished one, adopted, and the job was
    -- not finished before) queues its notification (once: the primary key) if its schedule asks
    -- (its `notify_on`, else the global statuses $1, to its URL or the global one: $3 says there
    -- is one), or else if the global filter does ($1 statuses, $2 services, empty: all). Only jobs
    -- finishing here are looked at: a job whose newest event here is not a finished one either
    -- stays unfinished or was finished already.
    INSERT INTO {NOTIFICATIONS} (job_id, status)
    SELECT u.job_id, u.status FROM up u JOIN latest l USING (job_id) LEFT JOIN before b USING (job_id)
        LEFT JOIN {SCHEDULES} s ON s.schedule_id = u.schedule_id
    WHERE l.status IN {_FINISHED} AND u.status IN {_FINISHED} AND (b.status IS NULL OR b.status NOT IN {_FINISHED})
      AND CASE WHEN s.notify_on IS NOT NULL OR s.notify_url IS NOT NULL
               THEN u.status = ANY(COALESCE(s.notify_on, $1::text[])) AND (s.notify_url IS NOT NULL OR $3)
               ELSE $3 AND u.status = ANY($1::text[]) AND (cardinality($2::text[]) = 0 OR u.service = ANY($2))
          END
    ON CONFLICT (job_id) DO NOTHING
    RETURNING 1
)
SELECT (SELECT count(*) FROM ins) AS inserted, (SELECT count(*) FROM up) AS jobs,
       (SELECT count(*) FROM notify) AS notifications
"""


def migrations() -> list[Migration]:
    return migrations_in("ferry_status")


async def apply_migrations(conn: asyncpg.Connection) -> list[str]:
    """Create or update the `status` schema; returns the versions applied now."""
    return await migrate(conn, SCHEMA, migrations())


def _error_of(event: JobEvent) -> str | None:
    if event.type not in (EventType.FAILED, EventType.REJECTED):
        return None
    for key in ("error", "reason"):
        value = event.detail.get(key)
        if value:
            return str(value)
    return event.message or event.type.value


def _request_of(event: JobEvent) -> tuple[str | None, str | None]:
    """Who asked and with which options: carried by the `accepted` event (the CLI publishes directly)."""
    if event.type is not EventType.ACCEPTED:
        return None, None
    by, options = event.detail.get("requested_by"), event.detail.get("options")
    return (str(by) if by else None), (json.dumps(options) if isinstance(options, dict) else None)


def _result_of(event: JobEvent) -> str | None:
    result = event.detail.get("result")
    return json.dumps(result) if isinstance(result, dict) else None


@dataclass(frozen=True)
class NotifyFilter:
    """Which finished jobs notify when their schedule does not say (the global settings)."""

    statuses: tuple[str, ...] = ()
    services: tuple[str, ...] = ()
    has_url: bool = False


async def write_events(
    conn: Executor, events: Sequence[tuple[JobEvent, str]], notify: NotifyFilter | None = None
) -> tuple[int, int]:
    """Store `(event, raw JSON body)` pairs once each and fold them into their jobs' rows, in one
    transaction, queueing a notification for each job that finishes by them and `notify` (or its
    schedule) selects. Returns (events newly stored, job rows written)."""
    if isinstance(conn, asyncpg.Pool):
        async with conn.acquire() as own:
            return await write_events(own, events, notify)
    notify = notify or NotifyFilter()
    async with conn.transaction():
        await conn.execute(_CREATE_BATCH_TABLE)
        await conn.copy_records_to_table(
            BATCH_TABLE.removeprefix("pg_temp."), schema_name="pg_temp", records=_batch_rows(events),
            columns=[name for name, _ in _BATCH_COLUMNS],
        )
        row = await conn.fetchrow(_WRITE_EVENTS, list(notify.statuses), list(notify.services), notify.has_url)
    assert row is not None
    return int(row["inserted"]), int(row["jobs"])


def _batch_rows(events: Sequence[tuple[JobEvent, str]]) -> list[tuple[Any, ...]]:
    """The batch's rows, each event once (the first copy of an event_id the batch repeats)."""
    rows: dict[UUID, tuple[Any, ...]] = {}
    for event, body in events:
        if event.event_id in rows:
            continue
        rows[event.event_id] = (
            event.event_id, event.job_id, event.seq, event.type.value, event.service, event.command, event.at,
            body, event.total, event.processed, event.succeeded, event.failed, event.skipped, event.message,
            _error_of(event), _result_of(event), *_request_of(event),
        )
    return list(rows.values())


async def claim_job_id(
    conn: Executor, job_id: UUID, service: str, command: str, options: dict[str, Any], requested_by: str
) -> tuple[bool, str, str]:
    """Record a job the API is about to publish as pending, unless its id is already known.

    Returns (claimed now, service, command) of the job that holds the id: the caller compares them
    with its own to refuse an id that belongs to another job. Atomic: of two requests racing for
    one id, the second sees the first's row."""
    row = await conn.fetchrow(
        f"INSERT INTO {JOBS} (job_id, service, command, status, options, requested_by)"
        f" VALUES ($1, $2, $3, '{JobStatus.PENDING.value}', $4, $5)"
        " ON CONFLICT (job_id) DO NOTHING RETURNING service, command",
        job_id, service, command, options, requested_by,
    )
    if row is not None:
        return True, row["service"], row["command"]
    held = await conn.fetchrow(f"SELECT service, command FROM {JOBS} WHERE job_id = $1", job_id)
    if held is None:  # deleted between the two statements (retention): try once more
        return await claim_job_id(conn, job_id, service, command, options, requested_by)
    return False, held["service"], held["command"]


async def record_command(
    conn: Executor, job_id: UUID, service: str, command: str, options: dict[str, Any] | None,
    requested_by: str | None, requested_at: datetime | None,
) -> bool:
    """Record a command seen on `ferry.commands` as a pending job, whoever published it.

    Idempotent with the job's events, in either order: a job already known keeps its status and
    counters and only gains who asked and with which options if it lacked them. True when the
    job was new."""
    row = await conn.fetchrow(
        f"INSERT INTO {JOBS} AS j (job_id, service, command, status, options, requested_by, created_at)"
        f" VALUES ($1, $2, $3, '{JobStatus.PENDING.value}', $4, $5, COALESCE($6, now()))"
        " ON CONFLICT (job_id) DO UPDATE SET requested_by = COALESCE(j.requested_by, EXCLUDED.requested_by),"
        " options = COALESCE(j.options, EXCLUDED.options)"
        " WHERE j.requested_by IS NULL OR j.options IS NULL"
        " RETURNING (xmax = 0) AS inserted",
        job_id, service, command, options, requested_by, requested_at,
    )
    return bool(row and row["inserted"])


async def mark_stalled(conn: Executor, after_s: float) -> list[UUID]:
    """Mark `stalled` every running job that has sent no event for `after_s` seconds; their ids.
    Safe from several replicas at once (a row is only changed while it is still running)."""
    rows = await conn.fetch(
        f"UPDATE {JOBS} SET status = '{JobStatus.STALLED.value}', updated_at = now()"
        f" WHERE status = '{JobStatus.RUNNING.value}' AND last_event_at < now() - make_interval(secs => $1)"
        " RETURNING job_id",
        after_s,
    )
    return [r["job_id"] for r in rows]


async def release_job_id(conn: Executor, job_id: UUID) -> None:
    """Forget a pending row `claim_job_id` made when its command could not be published (unless
    events have arrived for it meanwhile)."""
    await conn.execute(f"DELETE FROM {JOBS} WHERE job_id = $1 AND last_seq = -1", job_id)


async def get_job(conn: Executor, job_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT * FROM {JOBS} WHERE job_id = $1", job_id)


async def list_jobs(
    conn: Executor, *, service: str | None, status: JobStatus | None, limit: int, offset: int,
    id_prefix: str | None = None,
) -> tuple[list[asyncpg.Record], int]:
    """One page of jobs, newest first, and how many match in all (`id_prefix`: ids starting so)."""
    where = (
        "WHERE ($1::text IS NULL OR service = $1) AND ($2::text IS NULL OR status = $2)"
        " AND ($5::text IS NULL OR job_id::text LIKE $5 || '%')"
    )
    prefix = id_prefix.lower() if id_prefix else None
    args = (service, status.value if status else None)
    rows = await conn.fetch(
        f"SELECT * FROM {JOBS} {where} ORDER BY created_at DESC, job_id DESC LIMIT $3 OFFSET $4",
        *args, limit, offset, prefix,
    )
    count_where = where.replace("$5", "$3")
    total = await conn.fetchval(f"SELECT count(*) FROM {JOBS} {count_where}", *args, prefix)
    return list(rows), int(total or 0)


async def job_events(conn: Executor, job_id: UUID, after_seq: int, limit: int) -> list[dict[str, Any]]:
    """The stored bodies of at most `limit` of a job's events with seq > `after_seq`, in order."""
    rows = await conn.fetch(
        f"SELECT body FROM {EVENTS} WHERE job_id = $1 AND seq > $2 ORDER BY seq, at, event_id LIMIT $3",
        job_id, after_seq, limit,
    )
    return [dict(r["body"]) for r in rows]


async def counts(conn: Executor) -> list[tuple[str, str, int]]:
    """(service, status, jobs) for every pair that has jobs."""
    rows = await conn.fetch(f"SELECT service, status, count(*) AS n FROM {JOBS} GROUP BY service, status")
    return [(r["service"], r["status"], int(r["n"])) for r in rows]

