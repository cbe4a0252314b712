"""Retention: events and finished jobs older than a setting are deleted, in short batches, daily.

A built-in daily task (`maintenance` row `retention`): the replica whose UPDATE moves `next_run`
on runs it that day; the others find nothing due. Old finished jobs are walked in job-id order
(keyset, like the janitor's batches), their events deleted a bounded batch at a time, each batch
its own short transaction, so ingest never waits behind a long delete. A job's summary row can be
kept longer than its events (`FERRY_STATUS_JOB_RETENTION_DAYS`). Unfinished jobs are never touched.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg
import structlog

from ferry_status.store import EVENTS, JOBS, SCHEMA

log = structlog.get_logger(__name__)
MAINTENANCE = f'"{SCHEMA}".maintenance'
JOBS_PER_PASS = 500


@dataclass
class Purged:
    events: int = 0
    jobs: int = 0
    batches: int = 0


async def claim_daily(pool: asyncpg.Pool, name: str, now: datetime) -> bool:
    """True for the one caller that moves the task's next run a day on (it is due at `now`)."""
    moved = await pool.fetchval(
        f"UPDATE {MAINTENANCE} SET next_run = $2 + interval '1 day' WHERE name = $1 AND next_run <= $2 RETURNING true",
        name, now,
    )
    return moved is True


async def purge(
    pool: asyncpg.Pool, *, now: datetime, events_days: int, jobs_days: int, batch: int
) -> Purged:
    """Delete the events of jobs finished more than `events_days` ago and the rows of those finished
    more than `jobs_days` ago, at most `batch` rows per transaction."""
    events_cutoff = now - timedelta(days=events_days)
    jobs_cutoff = now - timedelta(days=jobs_days)
    done = Purged()
    after = UUID(int=0)
    while True:
        rows = await pool.fetch(
            f"SELECT job_id, finished_at FROM {JOBS} WHERE finished_at < $1 AND job_id > $2"
            " ORDER BY job_id LIMIT $3",
            events_cutoff, after, JOBS_PER_PASS,
        )
        if not rows:
            return done
        after = rows[-1]["job_id"]
        ids = [r["job_id"] for r in rows]
        while True:
            deleted = await pool.fetchval(
                f"WITH gone AS (DELETE FROM {EVENTS} WHERE event_id IN (SELECT event_id FROM {EVENTS}"
                " WHERE job_id = ANY($1::uuid[]) LIMIT $2) RETURNING 1) SELECT count(*) FROM gone",
                ids, batch,
            )
            if not deleted:
                break
            done.events += int(deleted)
            done.batches += 1
        old = [r["job_id"] for r in rows if r["finished_at"] < jobs_cutoff]
        for start in range(0, len(old), batch):
            chunk = old[start:start + batch]
            gone = await pool.fetchval(
                f"WITH gone AS (DELETE FROM {JOBS} WHERE job_id = ANY($1::uuid[]) AND finished_at < $2 RETURNING 1)"
                " SELECT count(*) FROM gone",
                chunk, jobs_cutoff,
            )
            done.jobs += int(gone or 0)
            done.batches += 1


async def run_if_due(
    pool: asyncpg.Pool, *, events_days: int, jobs_days: int, batch: int, now: datetime | None = None
) -> Purged | None:
    """The daily retention pass, if this replica claims today's run; None otherwise."""
    now = now or datetime.now(UTC)
    if not await claim_daily(pool, "retention", now):
        return None
    purged = await purge(pool, now=now, events_days=events_days, jobs_days=jobs_days, batch=batch)
    log.info("retention pass", events_deleted=purged.events, jobs_deleted=purged.jobs, batches=purged.batches,
             events_days=events_days, jobs_days=jobs_days)
    return purged
