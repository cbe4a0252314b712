"""status_ingest: job events per second drained from `status.events` into committed rows.

One publish fills two identical quorum queues bound `#` to `ferry.events`: `status.events` and a
ceiling queue. CEILING: bare aio-pika consuming the ceiling queue (same prefetch, one `multiple`
ack per 1,000, no database). FIGURE: the status service's real ingester (its FastAPI lifespan,
in this process) draining `status.events`, timed until the `status.events` table holds every
event. Both in this run, on this machine. Target: figure/ceiling >= 0.6.

    uv run python -m bench.status_ingest [--events 100000] [--jobs 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta

import aio_pika
import asyncpg
from faststream.rabbit import QueueType, RabbitQueue

from bench._common import bench_line
from bench._servers import own_servers
from ferry import topology
from ferry.contracts import EventType, JobEvent
from ferry_status.api import create_app
from ferry_status.settings import StatusSettings

NAME = "status_ingest"
TARGET = 0.6
PREFETCH = StatusSettings().status_ingest_prefetch  # the ingester's own window
CEILING_QUEUE = RabbitQueue(  # type: ignore[call-overload]  # the same arguments as status.events, typed loosely
    "bench.ceiling", queue_type=QueueType.QUORUM, durable=True,
    arguments=dict(topology.STATUS_EVENTS.arguments or {}), routing_key="#",
)


def make_events(n_events: int, n_jobs: int) -> list[JobEvent]:
    """`n_events` events over `n_jobs` jobs, each job's seq increasing and ending `completed`."""
    per_job = max(2, n_events // n_jobs)
    start = datetime.now(UTC) - timedelta(minutes=5)
    jobs = [uuid.uuid4() for _ in range(n_jobs)]
    out: list[JobEvent] = []
    for seq in range(per_job):
        kind = EventType.STARTED if seq == 0 else EventType.COMPLETED if seq == per_job - 1 else EventType.PROGRESS
        for i, job in enumerate(jobs):
            detail = {"result": {"deleted": per_job - 1}} if kind is EventType.COMPLETED else {}
            out.append(JobEvent(
                job_id=job, service="telemetry-janitor", command="clear", type=kind, seq=seq,
                at=start + timedelta(milliseconds=seq * 10 + i), total=per_job - 1, processed=seq, succeeded=seq,
                message=f"Deleted {seq}/{per_job - 1} records", detail=detail,
            ))
    return out[:n_events]


async def publish_all(amqp_url: str, events: list[JobEvent]) -> float:
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        await topology.declare_base(channel)
        await topology.declare(channel, CEILING_QUEUE, topology.EVENTS)
        exchange = await topology.declare_exchange(channel, topology.EVENTS)
        started = time.perf_counter()
        window = 1000
        for i in range(0, len(events), window):
            await asyncio.gather(*(
                exchange.publish(
                    aio_pika.Message(e.model_dump_json().encode(), delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                                     content_type="application/json", message_id=str(e.event_id)),
                    routing_key=e.routing_key,
                )
                for e in events[i:i + window]
            ))
        return len(events) / (time.perf_counter() - started)
    finally:
        await connection.close()


async def ceiling(amqp_url: str, n: int) -> float:
    """Bare aio-pika: consume `n` messages with the ingester's prefetch, one multiple-ack per 1,000."""
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel(publisher_confirms=False)
        await channel.set_qos(prefetch_count=PREFETCH)
        queue = await topology.declare(channel, CEILING_QUEUE, topology.EVENTS)
        done = asyncio.Event()
        count = 0
        acks: set[asyncio.Task[None]] = set()

        async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            nonlocal count
            count += 1
            if count % 1000 == 0 or count == n:
                await message.ack(multiple=True)
            if count >= n:
                done.set()

        started = time.perf_counter()
        tag = await queue.consume(on_message)
        await done.wait()
        elapsed = time.perf_counter() - started
        await queue.cancel(tag)
        del acks
        return n / elapsed
    finally:
        await connection.close()


async def figure(amqp_url: str, database_url: str, n: int) -> tuple[float, bool]:
    """The status service's ingester draining `n` events; (events/s, every job's row exact)."""
    settings = StatusSettings(amqp_url=amqp_url, database_url=database_url, api_token=None)
    app = create_app(settings)
    check = await asyncpg.connect(database_url)
    try:
        started = time.perf_counter()
        async with app.router.lifespan_context(app):
            while (stored := await check.fetchval("SELECT count(*) FROM status.events")) < n:
                await asyncio.sleep(0.05)
            elapsed = time.perf_counter() - started
            print(f"figure: {stored} events committed in {elapsed:.2f}s", flush=True)
        exact = await check.fetchval(
            "SELECT count(*) = count(*) FILTER (WHERE status = 'completed' AND processed = total AND last_seq = total)"
            " FROM status.jobs"
        )
        return n / elapsed, bool(exact)
    finally:
        await check.close()


async def main_async(n_events: int, n_jobs: int) -> bool:
    async with own_servers(NAME) as (amqp_url, database_url):
        events = make_events(n_events, n_jobs)
        rate = await publish_all(amqp_url, events)
        print(f"published {len(events)} events over {n_jobs} jobs ({rate:,.0f}/s, persistent, confirmed)", flush=True)
        raw = await ceiling(amqp_url, len(events))
        print(f"ceiling: bare aio-pika consumed {raw:,.0f} messages/s", flush=True)
        ingested, exact = await figure(amqp_url, database_url, len(events))
        print(f"figure: status ingester committed {ingested:,.0f} events/s; job rows exact: {exact}", flush=True)
        return bench_line(NAME, figure=ingested, ceiling=raw, target=TARGET,
                          extra={"events": len(events), "jobs": n_jobs, "rows_exact": exact}, extra_ok=exact)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=int(os.environ.get("BENCH_STATUS_EVENTS", 100_000)))
    parser.add_argument("--jobs", type=int, default=1_000)
    args = parser.parse_args()
    sys.exit(0 if asyncio.run(main_async(args.events, args.jobs)) else 1)


if __name__ == "__main__":
    main()
