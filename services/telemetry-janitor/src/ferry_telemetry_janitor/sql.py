"""The janitor's SQL: plain async functions over one asyncpg connection (and so its transaction).

`table` is always a quoted, validated name (`JanitorSettings.table_sql`); every value is bound.
Nothing here fetches row ids into Python: counts, batch bounds, deletes and demo inserts all run
server-side, so the janitor's memory stays flat whatever the table's size.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import asyncpg

from ferry.contracts import WebhookStatus
from ferry.db import Conn
from ferry_telemetry_janitor.errors import TableNotFound

NO_CURSOR = -(2**63)
"""A keyset cursor below every bigint id: the first batch starts here."""

REQUIRED_COLUMNS = ("id", "status")


def _status_filter(status: WebhookStatus, param: int) -> tuple[str, list[str]]:
    """` AND status = $n` and its value, or nothing for ALL."""
    if status is WebhookStatus.ALL:
        return "", []
    return f" AND status = ${param}", [status.value]


async def check_table(conn: Conn, table: str) -> None:
    """Raise TableNotFound unless `table` exists with an `id` and a `status` column."""
    if await conn.fetchval("SELECT to_regclass($1)::oid", table) is None:
        raise TableNotFound(
            f"FERRY_JANITOR_TABLE names {table}, which does not exist in the database of FERRY_DATABASE_URL "
            "(the janitor only ever creates its own telemetry_janitor.assignments_learnpackwebhook; "
            "an application's table must already exist)"
        )
    columns = await conn.fetch(
        "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped",
        table,
    )
    missing = sorted(set(REQUIRED_COLUMNS) - {r["attname"] for r in columns})
    if missing:
        raise TableNotFound(
            f"FERRY_JANITOR_TABLE names {table}, which lacks the column(s) {', '.join(missing)} "
            "of the assignments_learnpackwebhook layout"
        )


async def ensure_statistics(conn: Conn, table: str) -> bool:
    """ANALYZE the table if it never was; True if it had to.

    The batches' plans (walk the primary key from the cursor) depend on the planner knowing the
    table: without statistics it guesses a handful of rows and may scan the whole status index for
    every batch. Autovacuum analyzes a table eventually; a job should not depend on when.
    """
    analyzed = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM pg_stats s JOIN pg_namespace n ON n.nspname = s.schemaname"
        " JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = s.tablename"
        " WHERE c.oid = to_regclass($1) AND s.attname = 'status')",
        table,
    )
    if analyzed:
        return False
    await conn.execute(f"ANALYZE {table}")
    return True


async def max_id(conn: Conn, table: str) -> int | None:
    """The highest id in the table (None when empty): pins which rows a job may delete."""
    value: int | None = await conn.fetchval(f"SELECT max(id) FROM {table}")
    return value


async def count_rows(conn: Conn, table: str, status: WebhookStatus, up_to_id: int | None = None) -> int:
    """Rows with `status` (any for ALL), only those with id <= `up_to_id` when given.

    Counted as "all matching rows minus those above `up_to_id`", in one statement (one snapshot):
    the first count can be answered from the status index (or the primary key) alone, the second
    walks only the newest ids, so nothing reads the whole table's heap just to test `id <= up_to`.
    """
    if up_to_id is None:
        where, args = _status_filter(status, 1)
        everything: int = await conn.fetchval(f"SELECT count(*) FROM {table} WHERE true{where}", *args)
        return everything
    where, args = _status_filter(status, 2)
    pinned: int = await conn.fetchval(
        f"SELECT (SELECT count(*) FROM {table} WHERE true{where})"
        f" - (SELECT count(*) FROM {table} WHERE id > $1{where})",
        up_to_id, *args,
    )
    return pinned


async def status_summary(conn: Conn, table: str) -> dict[str, int]:
    """Rows per status, for the statuses present (ordered by status)."""
    rows = await conn.fetch(f"SELECT status, count(*) AS n FROM {table} GROUP BY status ORDER BY status")
    return {r["status"]: r["n"] for r in rows}


@dataclass(frozen=True)
class Batch:
    """What one keyset batch did: rows deleted, the cursor after it, and whether it was the last."""

    deleted: int
    cursor: int
    last: bool


def _affected(status_line: str) -> int:
    """`DELETE 42` / `INSERT 0 42` -> 42."""
    return int(status_line.rsplit(" ", 1)[-1])


async def delete_batch(
    conn: Conn, table: str, status: WebhookStatus, after: int, up_to: int, span: int, *, budget_ms: float
) -> Batch:
    """Delete the matching rows among the next `span` rows (any status) with `after < id <= up_to`.

    The batch's upper id is found by walking `span` entries of the primary key from the cursor: an
    index-only scan on a vacuumed table, no row locks, and immune to gaps in the ids. Walking only
    the matching rows instead would read every row's heap tuple twice (once to find the bound, once
    to delete), which was measured to cost as much as the delete itself. The rows are then deleted
    by a plain range on the primary key, with no ids in Python. Fewer than `span` rows left means
    this is the last batch.

    The DELETE is cancelled (QueryCanceledError) if the batch would outlast `budget_ms`: the one
    guarantee on lock time that a busy disk cannot break.
    """
    started = time.monotonic()
    upper: int | None = await conn.fetchval(
        f"SELECT id FROM {table} WHERE id > $1 AND id <= $2 ORDER BY id OFFSET $3 LIMIT 1", after, up_to, span - 1
    )
    hi, last = (up_to, True) if upper is None else (upper, False)
    where, args = _status_filter(status, 3)
    left_ms = max(1, int(budget_ms - (time.monotonic() - started) * 1000))
    timeout_was = await set_local(conn, "statement_timeout", f"{left_ms}ms")
    done = await conn.execute(f"DELETE FROM {table} WHERE id > $1 AND id <= $2{where}", after, hi, *args)
    await set_local(conn, "statement_timeout", timeout_was)
    return Batch(deleted=_affected(done), cursor=hi, last=last)


async def delete_all(conn: Conn, table: str, status: WebhookStatus, up_to: int) -> int:
    """One DELETE statement for every matching row with id <= `up_to` (the seed's "raw SQL cursor")."""
    where, args = _status_filter(status, 2)
    return _affected(await conn.execute(f"DELETE FROM {table} WHERE id <= $1{where}", up_to, *args))


async def set_local(conn: Conn, name: str, value: str) -> str:
    """Set a setting for the current transaction only; returns the value it had (to restore it)."""
    previous: str = await conn.fetchval("SELECT current_setting($1)", name)
    await conn.execute("SELECT set_config($1, $2, true)", name, value)
    return previous


async def compress_wal(conn: Conn) -> bool:
    """Compress this transaction's WAL full-page images (lz4), when this role may set it.

    A mass delete right after a checkpoint writes a full image of every page it touches: about
    1.2 GB of WAL for 1,000,000 interleaved rows. Writing it is what stalls a batch past its lock
    bound when the disk is busy; compressed, there is far less to write. Setting it needs a
    superuser or `GRANT SET ON PARAMETER wal_compression` (PG 15); without, nothing changes.
    """
    try:
        async with conn.transaction():  # a savepoint: a refusal leaves the step's transaction usable
            await conn.execute("SET LOCAL wal_compression = lz4")
    except (
        asyncpg.InsufficientPrivilegeError, asyncpg.InvalidParameterValueError, asyncpg.CantChangeRuntimeParamError
    ):
        return False
    return True


_CHECKPOINT_SYNC = ("DataFileSync", "DataFileImmediateSync")


async def checkpoint_syncing(conn: Conn) -> bool:
    """Whether the checkpointer is fsyncing data files right now (when this role may see it).

    While it does, writing WAL can stall for hundreds of milliseconds (a new WAL segment must be
    created and synced on a saturated disk), and a batch caught in it holds its row locks that long.
    """
    await conn.execute("SELECT pg_stat_clear_snapshot()")  # the activity view is cached per transaction
    event = await conn.fetchval("SELECT wait_event FROM pg_stat_activity WHERE backend_type = 'checkpointer'")
    return event in _CHECKPOINT_SYNC


# -- measured delete rates ----------------------------------------------------------------------
async def ensure_rate_row(conn: Conn, schema: str, table: str) -> None:
    """Create the table's rate row up front, so batches only ever update it (never wait on an insert)."""
    await conn.execute(
        f'INSERT INTO "{schema}".delete_rates (table_name) VALUES ($1) ON CONFLICT DO NOTHING', table
    )


async def read_rate(conn: Conn, schema: str, table: str) -> float | None:
    """The table's measured delete speed in rows/s, if any has been measured."""
    rate: float | None = await conn.fetchval(
        f'SELECT rows_per_s FROM "{schema}".delete_rates WHERE table_name = $1', table
    )
    return rate


async def record_rate(conn: Conn, schema: str, table: str, rows: int, seconds: float) -> None:
    """Fold one measurement into the table's rate (moving average).

    SKIP LOCKED: if another job's batch holds the row, this sample is dropped rather than making
    this transaction wait (and hold its own row locks longer).
    """
    if rows <= 0 or seconds <= 0:
        return
    await conn.execute(
        f'UPDATE "{schema}".delete_rates AS r SET'
        " rows_per_s = CASE WHEN r.rows_per_s IS NULL THEN $2::float8 ELSE 0.7 * r.rows_per_s + 0.3 * $2::float8 END,"
        " samples = r.samples + 1, updated_at = now()"
        f' WHERE r.table_name = (SELECT table_name FROM "{schema}".delete_rates'
        " WHERE table_name = $1 FOR UPDATE SKIP LOCKED)",
        table, rows / seconds,
    )


# -- demo rows ----------------------------------------------------------------------------------
_EVENTS = "ARRAY['batch','open_step','test','compile','submit','ai_interaction','quiz_submission','session_start']"
_SLUGS = (
    "ARRAY['javascript-functions','python-loops','react-hooks-tutorial','sql-basics','html-forms',"
    "'css-flexbox-layout','node-express-api','java-oop-intro','data-structures-python','git-workflow']"
)
_ERRORS = (
    "ARRAY['Error: telemetry for user not found','Error: invalid payload: missing steps',"
    "'Error: asset not found for package slug','Error: duplicate telemetry batch']"
)

_INSERT_DEMO = f"""
INSERT INTO {{table}} (is_streaming, event, asset_id, learnpack_package_id, package_slug, payload,
                       student_id, telemetry_id, status, status_text, created_at, updated_at)
SELECT g % 3 = 0, s.event, 1 + (g * 13) % 500, 1 + (g * 7) % 120, s.slug,
       jsonb_build_object(
           'event', s.event, 'slug', s.slug, 'user_id', s.student, 'is_streaming', g % 3 = 0,
           'session', md5(g::text), 'timestamp', floor(extract(epoch FROM k.ts) * 1000)::bigint,
           'step', jsonb_build_object('position', g % 12, 'slug', s.slug || '-step-' || g % 12,
                                      'attempts', g % 5, 'is_testable', g % 2 = 0),
           'data', jsonb_build_object('exit_code', (g % 4 = 0)::int, 'duration_ms', 100 + (g * 37) % 9000,
                                      'ai_interactions', g % 3)),
       s.student, CASE WHEN s.status = 'PENDING' THEN NULL ELSE 1 + (g * 11) % 100000 END,
       s.status,
       CASE s.status WHEN 'ERROR' THEN ({_ERRORS})[1 + g % 4]
                     WHEN 'IGNORED' THEN 'Ignored: event not tracked for this package' END,
       k.ts, k.ts + CASE WHEN s.status = 'PENDING' THEN interval '0' ELSE make_interval(secs => 1 + g % 60) END
FROM generate_series($1::bigint, $2::bigint) AS g,
     LATERAL (SELECT (g * 7919) % 10000 AS r,
                     now() - make_interval(secs => ($3::bigint - g) * 2) AS ts) AS k,
     LATERAL (SELECT CASE WHEN k.r < $4 THEN 'PENDING' WHEN k.r < $5 THEN 'DONE'
                          WHEN k.r < $6 THEN 'IGNORED' ELSE 'ERROR' END AS status,
                     ({_EVENTS})[1 + (g * 17) % 8] AS event,
                     'learnpack-' || ({_SLUGS})[1 + (g * 7) % 10] AS slug,
                     1 + ((g * 31) % 20000)::int AS student) AS s
"""


def share_thresholds(pending: float, done: float, ignored: float) -> tuple[int, int, int]:
    """Cumulative status shares in ten-thousandths: row g gets PENDING when (g*7919) % 10000 < the first."""
    p = round(pending * 10_000)
    d = p + round(done * 10_000)
    return p, d, d + round(ignored * 10_000)


async def insert_demo_rows(
    conn: Conn, table: str, first: int, last: int, of: int, thresholds: tuple[int, int, int]
) -> int:
    """Insert demo rows numbered `first`..`last` (1-based, of `of` in all), server-side.

    A row's status depends only on its number: 7919 is prime to 10,000, so every 10,000
    consecutive rows hold exactly the requested shares, interleaved.
    """
    done = await conn.execute(_INSERT_DEMO.format(table=table), first, last, of, *thresholds)
    return _affected(done)
