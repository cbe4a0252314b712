"""The runtime's view of the broker: what a delivery is, what to do with it, and publishing.

Kept apart from FastStream so the runtime can be driven by any consumer (FastStream in the
services, a plain loop in tests) and publishes through one persistent, confirmed path.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from faststream.rabbit import RabbitBroker

from ferry import topology
from ferry.jobs.store import OutboxMessage


class Verdict(Enum):
    """What the consumer does with a delivery once the runtime has handled it."""

    ACK = "ack"
    REQUEUE = "requeue"  # an unexpected error: deliver again (bounded by the queue's delivery limit)


@dataclass(frozen=True)
class Outcome:
    """A handled delivery: how to settle it, then what its committed transaction left to publish.

    `committed` is in the outbox already, so the delivery is settled first and its prefetch slot
    is free while they go out; a crash in between leaves them to the outbox relay.
    """

    verdict: Verdict
    committed: Sequence[OutboxMessage] = ()


@dataclass(frozen=True)
class Delivery:
    """One received message, as the runtime needs it."""

    body: bytes
    routing_key: str
    headers: dict[str, Any] = field(default_factory=dict)
    content_type: str | None = None

    @property
    def redelivered_count(self) -> int:
        """How often this message was delivered before (quorum queues count it for us)."""
        try:
            return int(self.headers.get("x-delivery-count") or 0)
        except (TypeError, ValueError):
            return 0


class Publisher:
    """Publishes outbox messages and dead letters: persistent, confirmed, mandatory."""

    def __init__(self, broker: RabbitBroker) -> None:
        self.broker = broker

    async def publish(self, message: OutboxMessage) -> None:
        await self.broker.publish(
            json.dumps(message.body).encode(),
            exchange=message.exchange or None,
            routing_key=message.routing_key,
            message_id=str(message.message_id),
            content_type="application/json",
            persist=True,
            mandatory=True,
        )

    async def republish(self, delivery: Delivery, *, exchange: str) -> None:
        """Publish a received message again, as a new message (its delivery count starts over)."""
        headers = {k: v for k, v in delivery.headers.items() if not k.startswith("x-")}
        await self.broker.publish(
            delivery.body,
            exchange=exchange,
            routing_key=delivery.routing_key,
            headers=headers,
            content_type=delivery.content_type or "application/json",
            persist=True,
            mandatory=True,
        )

    async def dead_letter(self, delivery: Delivery, *, reason: str, service: str) -> None:
        """Put a rejected message in `ferry.dlx` under its own routing key, with the reason."""
        headers = topology.rejected_headers(delivery.headers, reason=reason, service=service)
        await self.broker.publish(
            delivery.body,
            exchange=topology.DLX,
            routing_key=delivery.routing_key,
            headers=headers,
            content_type=delivery.content_type or "application/octet-stream",
            persist=True,
            mandatory=True,
        )
