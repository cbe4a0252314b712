"""Driving a job service from a benchmark: publish a command, wait for its job's final event.

    async with job_events(amqp_url, "telemetry-janitor") as jobs:
        started = time.monotonic()
        await jobs.publish("clear", envelope)
        event = await asyncio.wait_for(jobs.final(envelope.job_id), 900)

The event queue is bound before the command goes out, so no event of the job can be missed.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aio_pika
import aio_pika.abc

from ferry import topology
from ferry.contracts import Command, JobEvent

FINAL = ("completed", "failed", "cancelled", "rejected")


@dataclass(frozen=True)
class Jobs:
    """Commands to one service and the events of its jobs, on one channel."""

    service: str
    commands: aio_pika.abc.AbstractExchange
    events: aio_pika.abc.AbstractQueue

    async def publish(self, command: str, envelope: Command[Any]) -> None:
        """Publish `envelope` persistent to `<service>.<command>` on ferry.commands."""
        await self.commands.publish(
            aio_pika.Message(envelope.model_dump_json().encode(), delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                             content_type="application/json"),
            routing_key=f"{self.service}.{command}",
        )

    async def final(self, job_id: uuid.UUID) -> JobEvent:
        """The final event (completed, failed, cancelled or rejected) of job `job_id`."""
        async with self.events.iterator() as messages:
            async for message in messages:
                async with message.process():
                    event = JobEvent.model_validate_json(message.body)
                if event.job_id == job_id and event.type.value in FINAL:
                    return event
        raise RuntimeError("event queue closed")


@asynccontextmanager
async def job_events(amqp_url: str, service: str) -> AsyncIterator[Jobs]:
    """A connection with an exclusive queue bound to `<service>.job.*`, for the block's duration."""
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        await topology.declare_base(channel)
        events = await channel.declare_queue(f"bench.{uuid.uuid4().hex[:8]}", exclusive=True)
        await events.bind(topology.EVENTS.name, f"{service}.job.*")
        yield Jobs(service, await channel.get_exchange(topology.COMMANDS.name), events)
