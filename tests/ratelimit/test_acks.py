"""The limiter's lean consumers on the real broker: batched acks, and consuming again after a cut."""

from __future__ import annotations

import asyncio
import contextlib

import aiormq
import aiormq.abc
import pytest
from aiormq import spec

from ferry_rate_limiter.acks import AckBatcher
from tests.ratelimit.conftest import clients, limiter_in_process
from tests.support.infra import Infra, drop_connections

pytestmark = pytest.mark.timeout(30)

QUEUE = "test.acks"


async def _deliveries(connection: aiormq.abc.AbstractConnection, count: int) -> list[aiormq.abc.DeliveredMessage]:
    """The deliveries (unacknowledged) on a fresh channel, once `count` came or after 5 s."""
    channel = await connection.channel()
    await channel.basic_qos(prefetch_count=100)
    got: list[aiormq.abc.DeliveredMessage] = []
    enough = asyncio.Event()

    async def on_message(message: aiormq.abc.DeliveredMessage) -> None:
        got.append(message)
        if len(got) >= count:
            enough.set()

    await channel.basic_consume(QUEUE, on_message)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(enough.wait(), 5)
    return got


async def test_open_deliveries_survive_batched_acks_and_come_again(infra: Infra) -> None:
    connection = await aiormq.connect(infra.amqp_url)
    try:
        setup = await connection.channel()
        await setup.queue_declare(QUEUE, durable=True)
        for i in range(6):
            await setup.basic_publish(str(i).encode(), routing_key=QUEUE)

        first = await _deliveries(connection, 6)
        acks = AckBatcher(linger_s=0.001)
        for message in first:
            assert message.delivery_tag is not None
            acks.delivered(message.channel, message.delivery_tag)
        # 0, 1, 3 and 5 done; 2 still open (a feedback not saved yet); 4 settled otherwise (nacked).
        for i in (0, 1, 3, 5):
            tag = first[i].delivery_tag
            assert tag is not None
            acks.finished(first[i].channel, tag)
        tag4 = first[4].delivery_tag
        assert tag4 is not None
        await first[4].channel.basic_nack(tag4, requeue=True)
        acks.dropped(first[4].channel, tag4)
        runner = asyncio.create_task(acks.run())
        await asyncio.sleep(0.2)
        runner.cancel()
        await first[0].channel.close()  # what was not acknowledged comes again

        again = await _deliveries(connection, 2)
        await asyncio.sleep(0.2)  # nothing else may follow
        assert sorted(m.body for m in again) == [b"2", b"4"]
        assert all(isinstance(m.delivery, spec.Basic.Deliver) and m.delivery.redelivered for m in again)
    finally:
        await connection.close()


async def test_limiter_and_client_answer_again_after_the_broker_drops_their_connections(infra: Infra) -> None:
    async with limiter_in_process(infra, {"cut:*": {"rate": 1000, "burst": 1000}}) as server, clients(
        infra, "worker", timeout_s=1.0
    ) as (limiter,):
        assert await limiter.acquire("cut:k") < 0.5
        assert drop_connections(infra) >= 2
        # Both ends reconnect by themselves and consume again (their consumers are not aio-pika's).
        waited = await asyncio.wait_for(limiter.acquire("cut:k"), 20)
        assert waited < 20
        assert server.consuming()
        for _ in range(50):
            assert await limiter.acquire("cut:k") < 0.5
