"""The ingester survives losing RabbitMQ and Postgres without losing or doubling an event."""

from __future__ import annotations

import asyncio
import subprocess
import time
from pathlib import Path
from uuid import UUID, uuid4

import asyncpg
import pytest

from ferry.contracts import EventType
from tests.status.conftest import Events, Status, event, eventually, job_when
from tests.support.infra import Infra, drop_connections


async def test_readiness_fails_while_the_broker_connection_is_lost_and_the_consumer_comes_back(
    status: Status, infra: Infra
) -> None:
    assert (await status.client.get("/readyz")).status_code == 200

    async def not_ready() -> dict[str, object] | None:
        response = await status.client.get("/readyz")
        return response.json() if response.status_code == 503 else None  # type: ignore[no-any-return]

    # Watched while the connections are cut, not after: rabbitmqctl closes them one by one (a second
    # or more each), and the first one cut may have reconnected by the time the last one is.
    watching = asyncio.create_task(eventually(not_ready, timeout=30, what="/readyz 503"))
    assert await asyncio.to_thread(drop_connections, infra) >= 1
    lost = await watching
    assert lost["ready"] is False
    assert lost["checks"]["events_consumer"] != "ok"  # type: ignore[index]

    async def ready_again() -> bool:
        return (await status.client.get("/readyz")).status_code == 200

    await eventually(ready_again, timeout=20, what="/readyz 200 after reconnecting")

    # The restored consumer really consumes: a new event is ingested.
    import aio_pika

    from ferry import topology
    from tests.status.conftest import events as _  # noqa: F401 - documents that the fixture is not reused here

    connection = await aio_pika.connect(infra.amqp_url)
    try:
        channel = await connection.channel()
        exchange = await topology.declare_exchange(channel, topology.EVENTS)
        job = uuid4()
        late = event(job, 0, EventType.STARTED)
        await exchange.publish(aio_pika.Message(late.model_dump_json().encode()), routing_key=late.routing_key)
        await job_when(status.client, job, lambda j: j["status"] == "running")
    finally:
        await connection.close()


def _restart_postgres() -> None:
    version = next(Path("/etc/postgresql").iterdir()).name
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"], check=True,
                   capture_output=True, timeout=120)


@pytest.mark.slow
@pytest.mark.disruptive
async def test_no_event_is_lost_or_doubled_when_postgres_restarts(
    status: Status, events: Events, infra: Infra
) -> None:
    jobs = [uuid4() for _ in range(20)]
    per_job = 150
    published: list[UUID] = []
    restart_done = asyncio.Event()

    async def publish_steadily() -> None:
        seq = 0
        # Keep publishing until well after Postgres is back, so writes hit the outage and the recovery.
        while seq < per_job or not restart_done.is_set():
            if seq >= per_job:
                await asyncio.sleep(0.05)
                continue
            last = seq == per_job - 1
            kind = EventType.COMPLETED if last else EventType.PROGRESS
            batch = [event(j, seq, kind, total=per_job - 1, processed=seq, succeeded=seq) for j in jobs]
            await asyncio.gather(*(events.publish(e) for e in batch))
            published.extend(e.event_id for e in batch)
            seq += 1
            await asyncio.sleep(0.02)

    publisher = asyncio.create_task(publish_steadily())
    await asyncio.sleep(1.0)
    started = time.monotonic()
    await asyncio.to_thread(_restart_postgres)
    restart_done.set()
    restart_s = time.monotonic() - started
    await publisher
    assert len(published) == len(jobs) * per_job

    async def all_stored() -> int | None:
        try:
            conn = await asyncpg.connect(infra.database_url)
        except (OSError, asyncpg.PostgresError):
            return None
        try:
            n = int(await conn.fetchval("SELECT count(*) FROM status.events"))
        finally:
            await conn.close()
        return n if n >= len(published) else None

    await eventually(all_stored, timeout=45, what=f"{len(published)} events stored")
    conn = await asyncpg.connect(infra.database_url)
    try:
        stored = {r["event_id"] for r in await conn.fetch("SELECT event_id FROM status.events")}
        rows = await conn.fetch("SELECT status, processed, last_seq FROM status.jobs")
    finally:
        await conn.close()
    assert stored == set(published), "every event stored, none invented"
    assert len(rows) == len(jobs)
    assert {(r["status"], r["processed"], r["last_seq"]) for r in rows} == {("completed", per_job - 1, per_job - 1)}

    metrics = await eventually(lambda: _metrics(status), timeout=10, what="/metrics")
    retries = next(line for line in metrics.splitlines() if line.startswith("ferry_status_ingest_db_retries_total"))
    assert float(retries.split()[1]) > 0, f"the restart ({restart_s:.1f}s) never reached the ingester"


async def _metrics(status: Status) -> str | None:
    response = await status.client.get("/metrics")
    return response.text if response.status_code == 200 else None
