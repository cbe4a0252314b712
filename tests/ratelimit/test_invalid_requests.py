"""Issue 7.12: what the limiter cannot read goes to `ferry.dlx` with its reason, and it keeps answering."""

from __future__ import annotations

import asyncio

import aio_pika
import pytest

from ferry import topology
from ferry.ratelimit import wire
from tests.ratelimit.conftest import clients, limiter_in_process
from tests.support.infra import Infra

pytestmark = pytest.mark.timeout(60)


async def test_unreadable_requests_and_feedback_are_dead_lettered_with_a_reason(infra: Infra) -> None:
    async with limiter_in_process(infra, {"k:*": {"rate": 100, "burst": 10}}):
        connection = await aio_pika.connect(infra.amqp_url)
        try:
            channel = await connection.channel()
            dead = await channel.declare_queue("", exclusive=True)
            await dead.bind(topology.DLX.name, routing_key="#")
            for body, kind in ((b"not json", None), (b"\xff\xfe", None), (b'{"key": 5}', wire.FEEDBACK)):
                await channel.default_exchange.publish(aio_pika.Message(body, type=kind), routing_key=wire.QUEUE)

            reasons: dict[bytes, str] = {}
            async with asyncio.timeout(15):
                while len(reasons) < 3:
                    message = await dead.get(no_ack=True, fail=False)
                    if message is None:
                        await asyncio.sleep(0.05)
                        continue
                    assert message.headers["x-ferry-service"] == "rate-limiter"
                    reasons[message.body] = str(message.headers["x-ferry-reason"])
            assert reasons[b"not json"].startswith("not an acquire request: Invalid JSON")
            assert reasons[b"\xff\xfe"].startswith("not an acquire request:")
            assert reasons[b'{"key": 5}'].startswith("not upstream feedback:")
        finally:
            await connection.close()

        async with clients(infra, "after") as (client,):
            await asyncio.wait_for(client.acquire("k:one"), 5)  # still answering
