"""How clients and the rate-limiter service meet on RabbitMQ.

One classic durable queue, `ferry.ratelimit`, takes both kinds of message (told apart by the AMQP
`type` property): acquire requests (transient, expiring after the client's timeout, answered on
`reply_to` with the request's `correlation_id`) and upstream feedback (persistent). One queue with
`x-single-active-consumer` means the one replica that owns the buckets gets both; the others wait
as standbys and the broker hands the queue to one of them when the active one goes away.

Clients and the service both declare it (`ferry.topology.RATELIMIT`), so feedback published
before the limiter ever ran is kept.
"""

from __future__ import annotations

import aio_pika.abc

from ferry import topology

QUEUE = topology.RATELIMIT.name
ACQUIRE = "ferry.ratelimit.acquire"
FEEDBACK = "ferry.ratelimit.feedback"
DIRECT_REPLY_TO = "amq.rabbitmq.reply-to"


async def declare_queue(channel: aio_pika.abc.AbstractChannel) -> aio_pika.abc.AbstractQueue:
    """Declare the limiter's queue, as `ferry.topology` defines it (idempotent)."""
    return await topology.declare(channel, topology.RATELIMIT)
