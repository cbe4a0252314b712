"""How clients and the rate-limiter service meet on RabbitMQ.

One classic durable queue, `ferry.ratelimit`, takes both kinds of message (told apart by the AMQP
`type` property): acquire requests (transient, expiring after the client's timeout, answered on
`reply_to` with the request's `correlation_id`) and upstream feedback (persistent). One queue with
`x-single-active-consumer` means the one replica that owns the buckets gets both; the others wait
as standbys and the broker hands the queue to one of them when the active one goes away.

Clients and the service both declare it (same arguments), so feedback published before the
limiter ever ran is kept.
"""

from __future__ import annotations

from typing import Any

import aio_pika.abc

QUEUE = "ferry.ratelimit"
ACQUIRE = "ferry.ratelimit.acquire"
FEEDBACK = "ferry.ratelimit.feedback"
DIRECT_REPLY_TO = "amq.rabbitmq.reply-to"
QUEUE_ARGUMENTS: dict[str, Any] = {"x-single-active-consumer": True}


async def declare_queue(channel: aio_pika.abc.AbstractChannel) -> aio_pika.abc.AbstractQueue:
    """Declare the limiter's queue (idempotent; the same arguments everywhere)."""
    return await channel.declare_queue(QUEUE, durable=True, arguments=dict(QUEUE_ARGUMENTS))
