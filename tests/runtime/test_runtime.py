"""The job runtime against the real RabbitMQ and Postgres, with a toy service."""

from __future__ import annotations

import asyncio
from uuid import uuid4

import aiormq.exceptions
import asyncpg
import httpx
import pytest

from ferry.contracts import JobEvent
from ferry.jobs.model import StepMessage
from ferry.jobs.store import OutboxMessage
from ferry.service import DELIVERIES
from tests.runtime.harness import SERVICE, CountOptions, EventTap, toy_service
from tests.support.infra import Infra, drop_connections

FINAL = {"completed", "failed", "cancelled", "rejected"}


async def test_job_runs_every_step_and_reports_a_summary(infra: Infra) -> None:
    async with toy_service(infra), EventTap.open(infra) as tap:
        job_id = await tap.start(CountOptions(items=12, fail=[3, 7]))
        final = await tap.until(job_id, FINAL)
    assert final.type == "completed"
    assert (final.total, final.processed, final.succeeded, final.failed) == (12, 12, 10, 2)
    assert final.message == "counted 10 items, 2 failed"
    assert final.detail["result"]["planned"] is True
    assert final.detail["result"]["duration_s"] >= 0
    events = tap.of(job_id)
    types = [e.type.value for e in events]
    assert types[0] == "accepted"
    assert types[1] == "started"
    assert types.count("item_failed") == 2
    assert [e.seq for e in events] == sorted({e.seq for e in events})  # increasing, no duplicates
    conn = await asyncpg.connect(infra.database_url)
    try:
        # a failed item's effects are rolled back; each good item is recorded exactly once
        rows = await conn.fetch("SELECT item FROM toy.done_items WHERE job_id = $1 ORDER BY item", job_id)
    finally:
        await conn.close()
    assert [r["item"] for r in rows] == [i for i in range(12) if i not in (3, 7)]


async def test_same_job_id_published_twice_runs_once(infra: Infra) -> None:
    async with toy_service(infra), EventTap.open(infra) as tap:
        job_id = uuid4()
        await tap.start(CountOptions(items=3), job_id=job_id)
        await tap.start(CountOptions(items=3), job_id=job_id)
        final = await tap.until(job_id, FINAL)
        await asyncio.sleep(1.5)  # time for a second run to show up, if there were one
        async with asyncio.timeout(3):
            while (message := await tap.queue.get(fail=False)) is not None:
                await message.ack()
                tap.events.append(JobEvent.model_validate_json(message.body))
    assert final.succeeded == 3
    assert [e.type.value for e in tap.of(job_id)].count("accepted") == 1


async def test_invalid_command_is_dead_lettered_with_reason_and_rejected(infra: Infra) -> None:
    async with toy_service(infra), EventTap.open(infra) as tap:
        dead = await tap.channel.declare_queue("ferry.dead-letters", passive=True)
        job_id = uuid4()
        await tap.publish("count", {"job_id": str(job_id), "options": {"items": -1}})
        rejected = await tap.until(job_id, FINAL)
        await tap.publish("count", b"not json at all")
        await asyncio.sleep(0.5)
        letters = []
        while (message := await dead.get(fail=False, timeout=5)) is not None:
            await message.ack()
            letters.append(message)
        # the service still serves after bad input
        good = await tap.start(CountOptions(items=1))
        assert (await tap.until(good, FINAL)).type == "completed"
    assert rejected.type == "rejected"
    assert "options.items" in rejected.message
    reasons = [m.headers.get("x-ferry-reason") for m in letters]
    assert len(letters) == 2
    assert all(reasons), reasons
    assert any("options.items" in str(r) for r in reasons)
    assert letters[1].body == b"not json at all"


async def test_job_failed_stops_the_job(infra: Infra) -> None:
    async with toy_service(infra), EventTap.open(infra) as tap:
        job_id = await tap.start(CountOptions(items=4, explode_at=0))
        final = await tap.until(job_id, FINAL)
    assert final.type == "failed"
    assert "item 0 is fatal" in (final.detail.get("error") or "")


async def test_retry_later_parks_the_step_and_finishes(infra: Infra) -> None:
    async with toy_service(infra), EventTap.open(infra) as tap:
        job_id = await tap.start(CountOptions(items=2, retry_once=1))
        final = await tap.until(job_id, FINAL, timeout=30)
    assert final.type == "completed"
    assert final.succeeded == 2
    assert any("waiting" in e.message for e in tap.of(job_id))


async def test_cancel_stops_between_items(infra: Infra) -> None:
    async with toy_service(infra), EventTap.open(infra) as tap:
        job_id = await tap.start(CountOptions(items=200, sleep_s=0.05))
        await tap.until(job_id, {"progress"})
        await tap.publish("cancel", {"job_id": str(job_id), "requested_by": "test"})
        final = await tap.until(job_id, FINAL, timeout=30)
    assert final.type == "cancelled"
    assert final.processed < 200


async def test_a_flush_keeps_in_the_outbox_only_what_the_broker_did_not_take(infra: Infra) -> None:
    """Messages go out together; one the broker refuses (no queue) stays for the relay, the rest are sent."""
    async with toy_service(infra) as app, EventTap.open(infra) as tap:
        job_id = await tap.start(CountOptions(items=1))
        await tap.until(job_id, FINAL)
        runtime = app.state.runtime
        async with runtime.pool.acquire() as conn, asyncio.timeout(10):  # the job's last messages: sent, then deleted
            while await conn.fetchval("SELECT count(*) FROM toy.outbox"):
                await asyncio.sleep(0.05)
        events = [JobEvent(job_id=job_id, service="toy", command="count", type="progress", seq=90 + n,
                           message=f"sent {n}") for n in range(3)]
        lost = OutboxMessage.step("toy.no-such-queue", StepMessage(job_id=job_id, step_no=99))
        staged = [*map(OutboxMessage.event, events), lost]
        async with runtime.pool.acquire() as conn:
            await runtime.store.stage(conn, staged)
        with pytest.raises(aiormq.exceptions.PublishError, match="NO_ROUTE"):
            await runtime.outbox.flush(staged)
        seen = {(await tap.until(job_id, {"progress"})).message for _ in range(3)}
        async with runtime.pool.acquire() as conn:
            left = await conn.fetch("SELECT routing_key, body FROM toy.outbox")
    assert seen == {"sent 0", "sent 1", "sent 2"}
    assert [(r["routing_key"], r["body"]["step_no"]) for r in left] == [("toy.no-such-queue", 99)]


async def test_relay_publishes_what_a_dead_process_left_in_the_outbox(infra: Infra) -> None:
    """A process that died between commit and publish leaves its messages: the relay sends them."""
    async with toy_service(infra) as app, EventTap.open(infra) as tap:
        job_id = await tap.start(CountOptions(items=1))
        await tap.until(job_id, FINAL)
        runtime = app.state.runtime
        event = JobEvent(job_id=job_id, service="toy", command="count", type="progress", seq=99, message="left over")
        async with runtime.pool.acquire() as conn:
            async with asyncio.timeout(10):  # the job's own last messages are deleted just after they are sent
                while await conn.fetchval("SELECT count(*) FROM toy.outbox"):
                    await asyncio.sleep(0.05)
            await runtime.store.stage(conn, [OutboxMessage.event(event)])
            assert await runtime.outbox.relay_once(older_than_s=60) == 0  # too young: its own process may still send it
            await conn.execute(
                "UPDATE toy.outbox SET created_at = now() - interval '1 minute' WHERE message_id = $1", event.event_id
            )
        assert await runtime.outbox.relay_once(older_than_s=10) == 1
        relayed = await tap.until(job_id, {"progress"})
        while relayed.seq != 99:
            relayed = await tap.until(job_id, {"progress"})
        async with runtime.pool.acquire() as conn:
            assert await conn.fetchval("SELECT count(*) FROM toy.outbox") == 0
    assert relayed.message == "left over"


async def test_service_recovers_its_consumers_after_losing_the_broker(infra: Infra) -> None:
    """RabbitMQ does not always restore consumers after a broker restart (docs/messages.md): check, broker-side."""
    async with toy_service(infra) as app:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://toy") as http:
            assert (await http.get("/readyz")).status_code == 200
            assert drop_connections(infra) >= 1
            await asyncio.sleep(3)  # past the broker's 2 s reconnect interval
            async with asyncio.timeout(30):
                while (await http.get("/readyz")).status_code != 200:
                    await asyncio.sleep(0.2)
        async with EventTap.open(infra) as tap:
            for name in ("toy.commands", "toy.steps"):
                queue = await tap.channel.declare_queue(name, passive=True)
                assert queue.declaration_result.consumer_count == 1, name
            job_id = await tap.start(CountOptions(items=3))
            final = await tap.until(job_id, FINAL, timeout=30)
    assert final.type == "completed"
    assert final.succeeded == 3


async def test_a_jobs_result_and_its_events_give_one_duration(infra: Infra) -> None:
    async with toy_service(infra), EventTap.open(infra) as tap:
        job_id = await tap.start(CountOptions(items=3, sleep_s=0.3))
        final = await tap.until(job_id, FINAL)
    started = next(e for e in tap.of(job_id) if e.type == "started")
    assert final.type == "completed"
    span = (final.at - started.at).total_seconds()
    assert span >= 0.3  # the plan and at least one item's sleep
    assert final.detail["result"]["duration_s"] == pytest.approx(span, abs=0.002)


async def test_cancelling_a_job_with_several_steps_running_settles_every_delivery_first_time(infra: Infra) -> None:
    # Four steps of the job run at once when the cancel lands: the job ends once, the running steps
    # close themselves, and no delivery is requeued (a lock-order deadlock used to requeue them).
    requeued = DELIVERIES.labels(SERVICE, "steps", "requeue")
    before = requeued._value.get()
    async with toy_service(infra, step_concurrency=4), EventTap.open(infra) as tap:
        job_id = await tap.start(CountOptions(items=40, sleep_s=0.4))
        await tap.until(job_id, {"progress"})
        await tap.publish("cancel", {"job_id": str(job_id), "requested_by": "test"})
        final = await tap.until(job_id, FINAL, timeout=30)
        conn = await asyncpg.connect(infra.database_url)
        try:
            async with asyncio.timeout(10):  # every step row closed, none left open
                while await conn.fetchval("SELECT count(*) FROM toy.job_steps WHERE NOT done"):
                    await asyncio.sleep(0.1)
        finally:
            await conn.close()
    assert final.type == "cancelled"
    assert [e.type.value for e in tap.of(job_id)].count("cancelled") == 1
    assert requeued._value.get() == before
