"""The runtime's failure paths, on the real broker and database: every delivery is settled, an
outage is waited out rather than counted, and no job is left running with nobody running it."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import aio_pika
import httpx

from ferry import topology
from ferry.contracts import Command
from ferry.jobs.model import StepMessage
from tests.runtime.harness import SERVICE, CountOptions, EventTap, toy_service
from tests.support.infra import Infra, query

FINAL = {"completed", "failed", "cancelled", "rejected"}


async def _dead_letters(
    tap: EventTap, expected: int, timeout: float = 10
) -> list[aio_pika.abc.AbstractIncomingMessage]:
    """Read `expected` messages from ferry.dead-letters (fails after `timeout`)."""
    dead = await tap.channel.declare_queue(topology.DEAD_LETTERS.name, passive=True)
    letters: list[aio_pika.abc.AbstractIncomingMessage] = []
    async with asyncio.timeout(timeout):
        while len(letters) < expected:
            message = await dead.get(fail=False)
            if message is None:
                await asyncio.sleep(0.1)
                continue
            await message.ack()
            letters.append(message)
    return letters


async def test_undecodable_bodies_go_to_the_dead_letter_exchange_at_once_with_a_reason(infra: Infra) -> None:
    bodies = [b"{not json", b"\xff\xfe\x00 not utf-8"]
    async with toy_service(infra), EventTap.open(infra) as tap:
        commands = await tap.channel.get_exchange(topology.COMMANDS.name)
        for body in bodies:  # labelled JSON: the broker library would try (and fail) to decode it
            await commands.publish(aio_pika.Message(body, content_type="application/json"), f"{SERVICE}.count")
            await tap.channel.default_exchange.publish(
                aio_pika.Message(body, content_type="application/json"), topology.step_queue(SERVICE).name
            )
        letters = await _dead_letters(tap, 4)
        for queue in (topology.command_queue(SERVICE), topology.step_queue(SERVICE)):
            declared = await tap.channel.declare_queue(queue.name, passive=True)
            assert declared.declaration_result.message_count == 0, queue.name
        good = await tap.start(CountOptions(items=1))
        assert (await tap.until(good, FINAL)).type == "completed"
    assert sorted(m.body for m in letters) == sorted(bodies * 2)
    for letter in letters:
        assert letter.headers.get("x-ferry-reason"), letter.headers
        assert int(letter.headers.get("x-delivery-count") or 0) == 0  # dead-lettered at the first delivery


async def start_a_long_job(tap: EventTap) -> UUID:
    """A job still running when a test changes what it stored: steps long enough for a loaded machine."""
    job_id = await tap.start(CountOptions(items=6, sleep_s=5))
    await tap.until(job_id, {"started"})
    return job_id


async def test_stored_options_a_worker_cannot_read_fail_the_job_within_seconds(infra: Infra) -> None:
    # A newer version recorded the job with an option this worker does not know (a rolling deploy).
    async with toy_service(infra), EventTap.open(infra) as tap:
        job_id = await start_a_long_job(tap)
        await query(infra, "UPDATE toy.jobs SET options = options || '{\"added_in_v2\": true}'::jsonb"
                    " WHERE job_id = $1", job_id)
        final = await tap.until(job_id, FINAL, timeout=30)  # not the delivery limit's many redeliveries
    assert final.type == "failed", final.message
    assert "needs a newer worker" in final.message
    assert "added_in_v2" in final.message


async def test_an_expired_command_is_rejected_not_run(infra: Infra) -> None:
    async with toy_service(infra, command_ttl_s=60), EventTap.open(infra) as tap:
        old = Command[CountOptions](
            job_id=uuid4(), requested_at=datetime.now(UTC) - timedelta(hours=2), options=CountOptions(items=1)
        )
        await tap.publish("count", old.model_dump_json().encode())
        final = await tap.until(old.job_id, FINAL)
    assert final.type == "rejected"
    assert final.message.startswith("expired:")


async def test_an_outage_longer_than_the_wait_parks_the_step_and_counts_no_failure(infra: Infra) -> None:
    # Item 0's step meets connection errors for longer than FERRY_OUTAGE_WAIT_S: it is parked, comes
    # back, and the job completes with every item done and none failed.
    async with toy_service(infra, outage_wait_s=0.5), EventTap.open(infra) as tap:
        job_id = await tap.start(CountOptions(items=3, outage_s=2))
        final = await tap.until(job_id, FINAL, timeout=40)
    assert final.type == "completed", final.message
    assert (final.succeeded, final.failed) == (3, 0)


async def test_a_step_parked_too_often_fails_its_job_clearly(infra: Infra) -> None:
    async with toy_service(infra, max_park_attempts=2), EventTap.open(infra) as tap:
        job_id = await tap.start(CountOptions(items=2, retry_always=1))
        final = await tap.until(job_id, FINAL, timeout=40)
    assert final.type == "failed"
    assert "gave up on step" in final.message
    assert "toy is never ready" in final.message


async def test_a_step_the_broker_dead_letters_fails_its_job(infra: Infra) -> None:
    # As when a step's process dies at every delivery until the queue's delivery limit.
    async with toy_service(infra), EventTap.open(infra) as tap:
        job_id = await tap.start(CountOptions(items=2, sleep_s=3))
        await tap.until(job_id, {"started"})
        dlx = await tap.channel.get_exchange(topology.DLX.name)
        body = json.dumps(StepMessage(job_id=job_id, step_no=1).model_dump(mode="json")).encode()
        await dlx.publish(aio_pika.Message(body, headers={"x-first-death-reason": "delivery_limit"}),
                          topology.step_queue(SERVICE).name)
        final = await tap.until(job_id, FINAL, timeout=20)
    assert final.type == "failed"
    assert "dead-lettered by the broker (delivery_limit)" in final.message


async def test_stored_data_a_worker_cannot_read_fails_the_job_instead_of_stranding_it(infra: Infra) -> None:
    # The job's summary data no longer validates here (a newer version stored another shape): the
    # next step fails the job with the reason, and ending it (which reads the data again) works.
    async with toy_service(infra), EventTap.open(infra) as tap:
        job_id = await start_a_long_job(tap)
        await query(infra, "UPDATE toy.jobs SET data = data || '{\"planned\": {\"v2\": \"a map now\"}}'::jsonb"
                    " WHERE job_id = $1", job_id)
        final = await tap.until(job_id, FINAL, timeout=15)
        [row] = await query(infra, "SELECT state FROM toy.jobs WHERE job_id = $1", job_id)
        state = row["state"]
    assert final.type == "failed"
    assert state == "failed"
    assert "stored data" in final.message
    assert "planned" in final.message


async def test_readiness_drops_while_a_delivery_is_held_too_long_and_recovers_after(infra: Infra) -> None:
    # FERRY_DELIVERY_WEDGED_AFTER_S=1: a step that holds its delivery for 4 s makes /readyz fail on
    # `deliveries` (the replica is wedged as far as the orchestrator can tell), and pass once it is settled.
    async with (
        toy_service(infra, delivery_wedged_after_s=1) as app, EventTap.open(infra) as tap,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://toy") as http,
    ):
        idle = await http.get("/readyz")
        assert idle.status_code == 200, idle.text
        job_id = await tap.start(CountOptions(items=1, sleep_s=4))
        async with asyncio.timeout(20):
            while (held := await http.get("/readyz")).status_code == 200:
                await asyncio.sleep(0.1)
        final = await tap.until(job_id, FINAL, timeout=20)
        async with asyncio.timeout(10):  # the final event goes out just before the delivery is acked
            while (after := await http.get("/readyz")).status_code != 200:
                await asyncio.sleep(0.1)
    assert held.status_code == 503
    assert held.json()["deliveries"] is False
    assert {k: held.json()[k] for k in ("broker", "consumers", "database")} == dict.fromkeys(
        ("broker", "consumers", "database"), True
    )
    assert final.type == "completed"
    assert after.json()["deliveries"] is True
