"""How ferry talks to RabbitMQ: the FastStream broker of the job services, and the one command
publisher of the processes that start jobs (the CLI, the status API and its scheduler).

Both publish persistent, mandatory (unroutable raises) and confirmed messages, so a publish either
reached a queue or fails loudly. FastStream publishes non-persistent messages by default: the
runtime's publisher (`ferry.jobs.publisher.Publisher`) always passes `persist=True`.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable
from datetime import UTC, datetime

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractExchange
from faststream.rabbit import Channel, RabbitBroker

from ferry import topology
from ferry.settings import FerrySettings


def make_broker(settings: FerrySettings, *, app_id: str) -> RabbitBroker:
    """A FastStream broker for one ferry process (logs go through ferry's logging setup)."""
    return RabbitBroker(
        settings.amqp_url.get_secret_value(),
        app_id=app_id,
        default_channel=Channel(publisher_confirms=True, on_return_raises=True),
        graceful_timeout=30.0,
        reconnect_interval=2.0,
        log_level=logging.DEBUG,  # FastStream's per-message "Received/Processed" lines: debug only
    )


class CommandPublisher:
    """Publishes commands to `ferry.commands` on a confirmed channel of its own.

    Opening it declares the base topology and the queues of `services`, the same declarations the
    services make, so a command published while its service is down waits in its queue instead of
    being dropped as unroutable. Errors are aio-pika's (`DeliveryError` when unroutable); callers
    turn them into their own.
    """

    def __init__(self, channel: AbstractChannel, exchange: AbstractExchange, app_id: str) -> None:
        self._channel, self._exchange, self._app_id = channel, exchange, app_id

    @classmethod
    async def open(cls, connection: AbstractConnection, *, app_id: str, services: Iterable[str]) -> CommandPublisher:
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        await topology.declare_base(channel)
        for service in services:
            await topology.declare_service(channel, service)
        exchange = await topology.declare_exchange(channel, topology.COMMANDS)
        return cls(channel, exchange, app_id)

    async def publish(self, routing_key: str, body: bytes, *, message_id: str) -> None:
        """Publish one command (`<service>.<command>`) and wait for the broker's confirmation."""
        message = aio_pika.Message(
            body, content_type="application/json", delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            message_id=message_id, app_id=self._app_id, timestamp=datetime.now(UTC),
        )
        await self._exchange.publish(message, routing_key=routing_key, mandatory=True)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self._channel.close()
