"""The dashboard's reads of the job table (filters the JSON API does not offer) and its record of
operator actions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID

import asyncpg

from ferry.contracts import JobStatus
from ferry_status.store import JOBS, SCHEMA, Executor

ACTIONS = f'"{SCHEMA}".dashboard_actions'


@dataclass(frozen=True)
class JobFilter:
    """The recent-jobs table's filters, as the query string gives them (empty: no filter)."""

    service: str = ""
    status: str = ""
    since: str = ""
    until: str = ""
    requested_by: str = ""
    q: str = ""

    def problems(self) -> list[str]:
        found = []
        if self.status and self.status not in {s.value for s in JobStatus}:
            found.append(f"status {self.status!r} is not one of {', '.join(s.value for s in JobStatus)}")
        for name in ("since", "until"):
            value = getattr(self, name)
            if value:
                try:
                    date.fromisoformat(value)
                except ValueError:
                    found.append(f"{name} {value!r} is not a date (YYYY-MM-DD)")
        return found

    def as_query(self) -> dict[str, str]:
        return {k: v for k, v in self.__dict__.items() if v}

    def _sql(self) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        args: list[Any] = []

        def add(clause: str, value: Any) -> None:
            args.append(value)
            clauses.append(clause.format(f"${len(args)}"))

        if self.service:
            add("service = {}", self.service)
        if self.status:
            add("status = {}", self.status)
        if self.since:
            add("created_at >= {}", datetime.combine(date.fromisoformat(self.since), time(), UTC))
        if self.until:  # the whole day named
            add("created_at < {}", datetime.combine(date.fromisoformat(self.until), time(), UTC) + timedelta(days=1))
        if self.requested_by:
            add("requested_by ILIKE {}", f"%{self.requested_by}%")
        if self.q:
            add("job_id::text LIKE {}", f"{self.q.strip().lower()}%")
        return ("WHERE " + " AND ".join(clauses)) if clauses else "", args


async def find_jobs(conn: Executor, filters: JobFilter, *, limit: int, offset: int) -> tuple[list[asyncpg.Record], int]:
    where, args = filters._sql()
    n = len(args)
    rows = await conn.fetch(
        f"SELECT * FROM {JOBS} {where} ORDER BY created_at DESC, job_id DESC LIMIT ${n + 1} OFFSET ${n + 2}",
        *args, limit, offset,
    )
    total = await conn.fetchval(f"SELECT count(*) FROM {JOBS} {where}", *args)
    return list(rows), int(total or 0)


async def requesters(conn: Executor) -> list[str]:
    rows = await conn.fetch(f"SELECT DISTINCT requested_by FROM {JOBS} WHERE requested_by IS NOT NULL ORDER BY 1"
                            " LIMIT 200")
    return [r["requested_by"] for r in rows]


async def record_action(conn: Executor, job_id: UUID | None, action: str, user: str, reason: str = "",
                        new_job_id: UUID | None = None) -> None:
    await conn.execute(
        f"INSERT INTO {ACTIONS} (job_id, action, user_name, reason, new_job_id) VALUES ($1, $2, $3, $4, $5)",
        job_id, action, user, reason, new_job_id,
    )


async def actions_of(conn: Executor, job_id: UUID) -> list[asyncpg.Record]:
    return list(await conn.fetch(f"SELECT * FROM {ACTIONS} WHERE job_id = $1 OR new_job_id = $1 ORDER BY at, id",
                                 job_id))


async def clear_error(conn: Executor, job_id: UUID) -> bool:
    done = await conn.execute(f"UPDATE {JOBS} SET error = NULL, updated_at = now() WHERE job_id = $1"
                              " AND error IS NOT NULL", job_id)
    return done != "UPDATE 0"
