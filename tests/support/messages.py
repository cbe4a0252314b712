"""Publish a command the way the CLI does (persistent, on `ferry.commands`), for tests."""

from __future__ import annotations

from uuid import UUID, uuid4

import aio_pika

from ferry import topology
from ferry.contracts import Command, Options


async def send_command(
    channel: aio_pika.abc.AbstractChannel, routing_key: str, options: Options, job_id: UUID | None = None
) -> UUID:
    """Publish `options` as the command `routing_key` (`<service>.<command>`); the job id."""
    envelope = Command[type(options)](job_id=job_id or uuid4(), requested_by="test", options=options)  # type: ignore[misc]
    exchange = await channel.get_exchange(topology.COMMANDS.name)
    await exchange.publish(
        aio_pika.Message(envelope.model_dump_json().encode(), delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
        routing_key=routing_key,
    )
    return envelope.job_id
