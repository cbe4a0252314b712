"""janitor_batched: rows/s of `telemetry-janitor clear` in batched mode against one plain DELETE.

    uv run python -m bench.janitor_batched [--rows 2000000]

Seeds 2,000,000 realistic webhook rows, half of them PENDING (interleaved), into a template
database, vacuumed and analyzed like a live table. Two identical copies are made from it:

- CEILING: one plain `DELETE ... WHERE status = 'PENDING'` on the first copy (rows/s).
- FIGURE: the real service (`ferry-telemetry-janitor`, its own vhost) clearing PENDING on the
  second copy, timed from publishing the command to receiving its `completed` event (rows/s).

Also required: no transaction held its locks on the table longer than 500 ms. A separate
connection samples pg_locks every 10 ms for transactions holding a write lock on the table and
records the longest hold seen (plus the sampling interval, to err long); the job's own
`longest_batch_ms` (its statements' time per batch) must be under 500 ms too.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import asyncpg

from bench._common import bench_line
from bench._jobs import job_events
from bench._servers import ServiceProcess, own_database, own_vhost, running
from ferry.contracts import ClearOptions, Command, JobEvent, WebhookStatus
from ferry.db import connect, migrate, runtime_migrations
from ferry_telemetry_janitor import sql
from ferry_telemetry_janitor.main import spec

NAME = "janitor_batched"
TEMPLATE = f"{NAME}_tpl"
TABLE = '"telemetry_janitor"."assignments_learnpackwebhook"'
MAX_LOCK_MS = 500
SAMPLE_S = 0.010


async def build_template(database_url: str, rows: int, *, pending: float, done: float, ignored: float) -> float:
    """The janitor's schema and `rows` demo rows in this empty database, vacuumed and analyzed; seconds taken."""
    started = time.monotonic()
    conns = [await connect(database_url) for _ in range(2)]
    try:
        await migrate(conns[0], "telemetry_janitor", [*runtime_migrations(), *spec().migrations])
        thresholds = sql.share_thresholds(pending, done, ignored)
        chunk = 100_000
        firsts = list(range(1, rows + 1, chunk))

        async def insert(conn: Any, mine: list[int]) -> None:
            for first in mine:
                await sql.insert_demo_rows(conn, TABLE, first, min(first + chunk - 1, rows), rows, thresholds)

        await asyncio.gather(*(insert(c, firsts[i :: len(conns)]) for i, c in enumerate(conns)))
        await conns[0].execute(f"VACUUM ANALYZE {TABLE}")
    finally:
        for conn in conns:
            await conn.close()
    return time.monotonic() - started


@contextmanager
def janitor_service(amqp_url: str, database_url: str) -> Iterator[ServiceProcess]:
    """`ferry-telemetry-janitor` running against these servers, ready (its /readyz answered 200)."""
    with running("ferry-telemetry-janitor", {"FERRY_AMQP_URL": amqp_url, "FERRY_DATABASE_URL": database_url}) as it:
        yield it


async def run_clear(amqp_url: str, options: ClearOptions, timeout_s: float = 900) -> tuple[JobEvent, float]:
    """Publish a clear command; its final event and the seconds from publish to that event."""
    envelope = Command[ClearOptions](options=options, requested_by="bench")
    async with job_events(amqp_url, "telemetry-janitor") as jobs:
        started = time.monotonic()
        await jobs.publish("clear", envelope)
        event = await asyncio.wait_for(jobs.final(envelope.job_id), timeout_s)
        return event, time.monotonic() - started


@asynccontextmanager
async def lock_sampler(database_url: str) -> AsyncIterator[dict[str, float]]:
    """Samples which transactions hold a write lock on the table; `max_ms` = the longest hold seen.

    A hold runs from the first sample that sees a transaction holding RowExclusiveLock on the
    table to the last one, plus one sampling interval (so it errs long). Time a transaction spent
    before its first write (waiting, reading) holds no lock on the table and is not counted; its
    whole age is kept as `max_age_ms` for reference.
    """
    seen: dict[str, float] = {"max_ms": 0.0, "max_age_ms": 0.0, "samples": 0}
    holds: dict[tuple[int, object], float] = {}
    conn = await asyncpg.connect(database_url)
    query = (
        "SELECT a.pid, a.xact_start, extract(epoch FROM clock_timestamp() - a.xact_start) * 1000 AS age"
        " FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
        " WHERE l.relation = $1::regclass AND l.mode = 'RowExclusiveLock' AND l.granted AND a.pid <> pg_backend_pid()"
    )

    async def sample() -> None:
        while True:
            now = time.monotonic()
            for row in await conn.fetch(query, TABLE):
                first = holds.setdefault((row["pid"], row["xact_start"]), now)
                seen["max_ms"] = max(seen["max_ms"], (now - first + SAMPLE_S) * 1000)
                seen["max_age_ms"] = max(seen["max_age_ms"], float(row["age"]))
            seen["samples"] += 1
            await asyncio.sleep(SAMPLE_S)

    task = asyncio.create_task(sample())
    try:
        yield seen
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await conn.close()


async def plain_delete(database_url: str, status: str) -> tuple[int, float]:
    conn = await asyncpg.connect(database_url)
    try:
        started = time.monotonic()
        done = await conn.execute(f"DELETE FROM {TABLE} WHERE status = $1", status)
        return int(done.split()[-1]), time.monotonic() - started
    finally:
        await conn.close()


async def main(rows: int) -> bool:
    async with own_database(TEMPLATE) as template:
        seeded_s = await build_template(template, rows, pending=0.5, done=0.3, ignored=0.1)
        print(f"seeded {rows:,} rows (half PENDING, interleaved) in {seeded_s:.1f} s", flush=True)

        async with own_database(NAME, template=TEMPLATE) as work:
            deleted, seconds = await plain_delete(work, "PENDING")
        ceiling = deleted / seconds
        print(f"ceiling: one DELETE removed {deleted:,} rows in {seconds:.2f} s = {ceiling:,.0f} rows/s", flush=True)

        async with own_database(NAME, template=TEMPLATE) as work:
            with own_vhost(NAME) as amqp_url, janitor_service(amqp_url, work):
                async with lock_sampler(work) as locks:
                    event, seconds = await run_clear(amqp_url, ClearOptions(status=WebhookStatus.PENDING))
    result = event.detail.get("result", {})
    figure = int(result.get("deleted", 0)) / seconds
    longest_txn = locks["max_ms"]
    print(f"figure (path=service, end to end): {event.type.value}: {event.message!r}", flush=True)
    print(f"  deleted {result.get('deleted'):,} rows in {seconds:.2f} s = {figure:,.0f} rows/s, "
          f"method={result.get('method')}, {result.get('batches')} batches, "
          f"longest batch {result.get('longest_batch_ms')} ms, longest lock hold seen {longest_txn:.0f} ms "
          f"(oldest write transaction {locks['max_age_ms']:.0f} ms; {locks['samples']:.0f} samples), "
          f"{result.get('checkpoint_wait_ms')} ms sitting out checkpoint syncs", flush=True)
    ok = (
        event.type.value == "completed" and result.get("method") == "batched" and result.get("deleted") == deleted
        and longest_txn <= MAX_LOCK_MS and float(result.get("longest_batch_ms", 1e9)) <= MAX_LOCK_MS
    )
    return bench_line(NAME, figure=figure, ceiling=ceiling, target=0.5, extra_ok=ok, extra={
        "path": "service", "longest_lock_hold_ms": round(longest_txn),
        "longest_batch_ms": result.get("longest_batch_ms"), "batches": result.get("batches"),
        "max_lock_ms": MAX_LOCK_MS,
    })


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    sys.exit(0 if asyncio.run(main(parser.parse_args().rows)) else 1)
