"""The runtime's view of the broker: what a delivery is, what to do with it, and how the runtime
sends staged messages, requeued commands and dead letters through `ferry.messaging.Publisher`.

Kept apart from FastStream so the runtime can be driven by any consumer; it publishes through the
one persistent, confirmed, mandatory publisher every ferry process uses.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from ferry.jobs.store import OutboxMessage
from ferry.messaging import Publisher


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
    message_id: str | None = None

    @property
    def redelivered_count(self) -> int:
        """How often this message was delivered before (quorum queues count it for us)."""
        try:
            return int(self.headers.get("x-delivery-count") or 0)
        except (TypeError, ValueError):
            return 0


async def send(publisher: Publisher, message: OutboxMessage) -> None:
    """Publish a staged outbox message (its id is the message id consumers deduplicate by)."""
    await publisher.publish(
        message.exchange, message.routing_key, json.dumps(message.body).encode(), message_id=str(message.message_id)
    )


async def republish(publisher: Publisher, delivery: Delivery, *, exchange: str) -> None:
    """Publish a received message again, as a new message (its delivery count starts over)."""
    await publisher.republish(
        exchange, delivery.routing_key, delivery.body, headers=delivery.headers, message_id=delivery.message_id,
        content_type=delivery.content_type or "application/json",
    )


async def dead_letter(publisher: Publisher, delivery: Delivery, *, reason: str, service: str) -> None:
    """Put a rejected delivery in `ferry.dlx` under its own routing key, with the reason."""
    await publisher.dead_letter(
        delivery.routing_key, delivery.body, reason=reason, service=service, headers=delivery.headers,
        content_type=delivery.content_type or "application/octet-stream", message_id=delivery.message_id,
    )
