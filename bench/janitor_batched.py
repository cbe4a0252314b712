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
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import aio_pika
import asyncpg
import httpx

from bench._common import ADMIN_DATABASE_URL, AMQP_URL, bench_line
from ferry import topology
from ferry.contracts import ClearOptions, Command, JobEvent, WebhookStatus
from ferry.db import connect, migrate, runtime_migrations
from ferry_telemetry_janitor import sql
from ferry_telemetry_janitor.main import spec

NAME = "janitor_batched"
TABLE = '"telemetry_janitor"."assignments_learnpackwebhook"'
MAX_LOCK_MS = 500
SAMPLE_S = 0.010
BIN = Path(sys.executable).parent


def db_url(name: str) -> str:
    return urlunsplit(urlsplit(ADMIN_DATABASE_URL)._replace(path="/" + name))


async def admin(statement: str) -> None:
    conn = await asyncpg.connect(ADMIN_DATABASE_URL)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def drop_database(name: str) -> None:
    await admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def build_template(name: str, rows: int, *, pending: float, done: float, ignored: float) -> float:
    """A database with the janitor's schema and `rows` demo rows, vacuumed and analyzed; seconds taken."""
    started = time.monotonic()
    await drop_database(name)
    await admin(f'CREATE DATABASE "{name}"')
    conns = [await connect(db_url(name)) for _ in range(2)]
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


async def copy_of(template: str, name: str) -> None:
    """A fresh, identical copy of the template (a file copy: fast, and the same pages)."""
    await drop_database(name)
    await admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}" STRATEGY FILE_COPY')


@contextmanager
def vhost(name: str) -> Iterator[str]:
    """A RabbitMQ vhost of our own (deleted afterwards); its AMQP URL."""
    user = urlsplit(AMQP_URL).username or "guest"
    subprocess.run(["rabbitmqctl", "-q", "add_vhost", name], check=True, capture_output=True, timeout=60)
    try:
        subprocess.run(["rabbitmqctl", "-q", "set_permissions", "-p", name, user, ".*", ".*", ".*"],
                       check=True, capture_output=True, timeout=60)
        yield urlunsplit(urlsplit(AMQP_URL)._replace(path="/" + quote(name, safe="")))
    finally:
        subprocess.run(["rabbitmqctl", "-q", "delete_vhost", name], capture_output=True, timeout=60)


@dataclass
class Service:
    process: subprocess.Popen[bytes]
    log: Path

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


@contextmanager
def janitor_service(amqp_url: str, database_url: str, **env: str) -> Iterator[Service]:
    """`ferry-telemetry-janitor` running against these servers, ready (its /readyz answered 200)."""
    import os
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    environ = {k: v for k, v in os.environ.items() if not k.startswith("FERRY_")}
    environ.update(FERRY_AMQP_URL=amqp_url, FERRY_DATABASE_URL=database_url, FERRY_HTTP_PORT=str(port),
                   FERRY_LOG_FORMAT="json", FERRY_LOG_LEVEL="WARNING", **env)
    log = Path(tempfile.mkstemp(prefix="ferry-bench-janitor-", suffix=".log")[1])
    with log.open("ab") as out:
        process = subprocess.Popen([str(BIN / "ferry-telemetry-janitor")], env=environ, stdout=out,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    service = Service(process, log)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"ferry-telemetry-janitor exited ({process.returncode}):\n{service.tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"ferry-telemetry-janitor not ready after 60 s:\n{service.tail()}")
            time.sleep(0.1)
        yield service
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        log.unlink(missing_ok=True)


async def run_clear(amqp_url: str, options: ClearOptions, timeout_s: float = 900) -> tuple[JobEvent, float]:
    """Publish a clear command; its final event and the seconds from publish to that event."""
    envelope = Command[ClearOptions](options=options, requested_by="bench")
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        events = await channel.declare_queue(f"bench.{uuid.uuid4().hex[:8]}", exclusive=True)
        await events.bind(topology.EVENTS.name, "telemetry-janitor.job.*")
        commands = await channel.get_exchange(topology.COMMANDS.name)
        started = time.monotonic()
        await commands.publish(
            aio_pika.Message(envelope.model_dump_json().encode(), delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                             content_type="application/json"),
            routing_key="telemetry-janitor.clear",
        )

        async def final() -> JobEvent:
            async with events.iterator() as messages:
                async for message in messages:
                    async with message.process():
                        event = JobEvent.model_validate_json(message.body)
                        if event.job_id == envelope.job_id and event.type.value in (
                            "completed", "failed", "cancelled", "rejected",
                        ):
                            return event
            raise RuntimeError("event queue closed")

        event = await asyncio.wait_for(final(), timeout_s)
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
    template, work = f"ferry_bench_{NAME}_tpl", f"ferry_bench_{NAME}"
    try:
        seeded_s = await build_template(template, rows, pending=0.5, done=0.3, ignored=0.1)
        print(f"seeded {rows:,} rows (half PENDING, interleaved) in {seeded_s:.1f} s", flush=True)

        await copy_of(template, work)
        deleted, seconds = await plain_delete(db_url(work), "PENDING")
        ceiling = deleted / seconds
        print(f"ceiling: one DELETE removed {deleted:,} rows in {seconds:.2f} s = {ceiling:,.0f} rows/s", flush=True)

        await copy_of(template, work)
        with vhost(f"ferry-bench-{NAME}-{uuid.uuid4().hex[:6]}") as amqp_url, janitor_service(amqp_url, db_url(work)):
            async with lock_sampler(db_url(work)) as locks:
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
    finally:
        await drop_database(work)
        await drop_database(template)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    sys.exit(0 if asyncio.run(main(parser.parse_args().rows)) else 1)
