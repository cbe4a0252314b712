"""How ferry talks to RabbitMQ: the FastStream broker of the job services, and the one publisher
every process sends through (the CLI, the status service and the job runtime).

`Publisher` publishes persistent, mandatory (unroutable raises) and confirmed messages on a
channel of its own, so a publish either reached a queue or fails loudly. The job services
consume through FastStream but publish through it too: FastStream publishes non-persistent
messages by default, and one path means one set of properties to get right.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractExchange
from faststream.rabbit import Channel, RabbitBroker

from ferry import topology
from ferry.contracts import JobEvent
from ferry.settings import FerrySettings

JSON = "application/json"


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


class Publisher:
    """Publishes to ferry's exchanges (and work queues) on a confirmed channel of its own.

    Opening it declares the base topology and the queues of `services`, the same declarations the
    services make, so a message published while its consumer is down waits in its queue instead
    of being dropped as unroutable. On a robust connection the channel comes back after a
    reconnect; a publish during the outage raises. Errors are aio-pika's (`DeliveryError` when
    unroutable or refused); callers turn them into their own.
    """

    def __init__(self, channel: AbstractChannel, exchanges: Mapping[str, AbstractExchange], app_id: str) -> None:
        self._channel, self._exchanges, self._app_id = channel, dict(exchanges), app_id

    @classmethod
    async def open(cls, connection: AbstractConnection, *, app_id: str, services: Iterable[str] = ()) -> Publisher:
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        await topology.declare_services(channel, *services)
        exchanges = {e.name: await topology.declare_exchange(channel, e) for e in topology.EXCHANGES}
        exchanges[""] = channel.default_exchange  # "" routes to the queue the key names (work queues)
        return cls(channel, exchanges, app_id)

    async def publish(
        self, exchange: str, routing_key: str, body: bytes, *, message_id: str | None = None,
        headers: Mapping[str, Any] | None = None, content_type: str | None = JSON,
    ) -> None:
        """Publish one message and wait for the broker's confirmation."""
        message = aio_pika.Message(
            body, headers=dict(headers or {}), content_type=content_type, message_id=message_id,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT, app_id=self._app_id, timestamp=datetime.now(UTC),
        )
        await self._exchanges[exchange].publish(message, routing_key=routing_key, mandatory=True)

    async def command(self, routing_key: str, body: bytes, *, message_id: str) -> None:
        """Publish one command (`<service>.<command>`) to `ferry.commands`."""
        await self.publish(topology.COMMANDS.name, routing_key, body, message_id=message_id)

    async def event(self, event: JobEvent) -> None:
        """Publish one job event (`<service>.job.<type>`) to `ferry.events`; its id is the message id."""
        await self.publish(topology.EVENTS.name, event.routing_key, event.model_dump_json().encode(),
                           message_id=str(event.event_id))

    async def republish(
        self, exchange: str, routing_key: str, body: bytes, *, headers: Mapping[str, Any],
        content_type: str | None, message_id: str | None,
    ) -> None:
        """Publish a received message again as a new one: the broker's and ferry's `x-` headers (delivery
        count, deaths, rejection reason) are dropped, so its delivery count starts over."""
        fresh = {k: v for k, v in headers.items() if not str(k).startswith("x-")}
        await self.publish(exchange, routing_key, body, headers=fresh, content_type=content_type,
                           message_id=message_id)

    async def dead_letter(
        self, routing_key: str, body: bytes, *, reason: str, service: str, headers: Mapping[str, Any] | None = None,
        content_type: str | None = None, message_id: str | None = None,
    ) -> None:
        """Put a message ferry rejects in `ferry.dlx` under its own routing key, with the reason."""
        await self.publish(
            topology.DLX.name, routing_key, body, message_id=message_id, content_type=content_type,
            headers=topology.rejected_headers(headers, reason=reason, service=service),
        )

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self._channel.close()
