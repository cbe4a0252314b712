"""RabbitMQ names and declarations, in one place (docs/messages.md).

| exchange         | type  | routing key               |
|------------------|-------|---------------------------|
| `ferry.commands` | topic | `<service>.<command>`     |
| `ferry.events`   | topic | `<service>.job.<type>`    |
| `ferry.dlx`      | topic | the original routing key  |

Each service has a quorum command queue `<service>.commands` bound to `<service>.*`, and a
quorum work queue `<service>.steps` (published to through the default exchange) for the
steps its jobs are cut into. Both dead-letter to `ferry.dlx` after `DELIVERY_LIMIT`
deliveries; `ferry.dead-letters` keeps every dead letter for operators. Steps that must
wait (a rate-limit pause) park in `<service>.steps.wait-<N>s`, whose TTL sends them back.

The rate limiter has one queue of its own, `ferry.ratelimit` (`RATELIMIT`).

The FastStream objects below are the single source: FastStream declares them for the queues the
services consume, and `declare()` declares the same objects through a bare aio-pika channel for
everything else (`ferry.messaging.Publisher`, the status service, the rate limiter and its clients).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import aio_pika
from faststream.rabbit import ExchangeType, QueueType, RabbitExchange, RabbitQueue

DELIVERY_LIMIT = 10
"""Deliveries of one message before the broker dead-letters it. A constant, not a setting:
changing a quorum queue's arguments makes every later declaration fail."""

WAIT_TIERS_S = (5, 30, 120, 600)
"""Parking times available to steps that must wait (see `wait_queue`)."""

COMMANDS = RabbitExchange("ferry.commands", type=ExchangeType.TOPIC, durable=True)
EVENTS = RabbitExchange("ferry.events", type=ExchangeType.TOPIC, durable=True)
DLX = RabbitExchange("ferry.dlx", type=ExchangeType.TOPIC, durable=True)

_DEAD_LETTERING: dict[str, Any] = {
    "x-dead-letter-exchange": DLX.name,
    "x-delivery-limit": DELIVERY_LIMIT,
}


def _quorum(name: str, routing_key: str = "") -> RabbitQueue:
    """A durable quorum queue that dead-letters to `ferry.dlx` after `DELIVERY_LIMIT` deliveries."""
    queue: RabbitQueue = RabbitQueue(
        name, queue_type=QueueType.QUORUM, durable=True, arguments=cast(Any, dict(_DEAD_LETTERING)),
        routing_key=routing_key,
    )
    return queue

DEAD_LETTERS = RabbitQueue(
    "ferry.dead-letters", queue_type=QueueType.QUORUM, durable=True, routing_key="#"
)
"""Every dead letter, with `x-ferry-reason` when ferry rejected it. Read by operators."""


REASON_HEADER = "x-ferry-reason"
"""Why ferry rejected a message: set on every dead letter ferry itself sends to `ferry.dlx`."""


def rejected_headers(headers: Mapping[str, Any] | None, *, reason: str, service: str) -> dict[str, Any]:
    """A rejected message's headers as ferry dead-letters it: its own, the reason and who refused it."""
    return {**(headers or {}), REASON_HEADER: reason[:2000], "x-ferry-service": service}


def command_queue(service: str) -> RabbitQueue:
    """The queue a service takes its commands from (`<service>.*` on `ferry.commands`)."""
    return _quorum(f"{service}.commands", routing_key=f"{service}.*")


def step_queue(service: str) -> RabbitQueue:
    """The work queue a service's replicas share the steps of its jobs through."""
    return _quorum(f"{service}.steps")


def wait_queue(service: str, seconds: int) -> RabbitQueue:
    """A parking queue: messages expire after `seconds` back into `<service>.steps`.

    One fixed TTL per queue keeps it first-in first-out, so no message waits behind a
    longer one.
    """
    return RabbitQueue(
        f"{service}.steps.wait-{seconds}s",
        durable=True,
        arguments={
            "x-message-ttl": seconds * 1000,
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": f"{service}.steps",
        },
    )


def dead_step_queue(service: str) -> RabbitQueue:
    """Where the broker's dead letters of `<service>.steps` come back to the service, which fails
    their jobs with the reason (a copy stays in `ferry.dead-letters` for operators)."""
    return RabbitQueue(
        f"{service}.steps.dead", queue_type=QueueType.QUORUM, durable=True, routing_key=f"{service}.steps"
    )


def wait_tier(seconds: float) -> int:
    """The longest parking time not longer than `seconds` (at least the shortest)."""
    fitting = [tier for tier in WAIT_TIERS_S if tier <= seconds]
    return max(fitting) if fitting else WAIT_TIERS_S[0]


def events_queue(consumer: str, binding: str = "#") -> RabbitQueue:
    """A durable queue of job events for one consuming service (e.g. `status.events`)."""
    return _quorum(f"{consumer}.events", routing_key=binding)


def service_queues(service: str) -> list[tuple[RabbitQueue, RabbitExchange | None]]:
    """Everything a job service consumes or parks messages in, with the exchange it binds to."""
    return [
        (command_queue(service), COMMANDS),
        (step_queue(service), None),
        *((wait_queue(service, s), None) for s in WAIT_TIERS_S),
        (dead_step_queue(service), DLX),
    ]


async def declare_exchange(
    channel: aio_pika.abc.AbstractChannel, exchange: RabbitExchange
) -> aio_pika.abc.AbstractExchange:
    return await channel.declare_exchange(
        exchange.name, type=aio_pika.ExchangeType(exchange.type.value), durable=exchange.durable
    )


async def declare(
    channel: aio_pika.abc.AbstractChannel,
    queue: RabbitQueue,
    exchange: RabbitExchange | None = None,
) -> aio_pika.abc.AbstractQueue:
    """Declare `queue` (and bind it to `exchange`) exactly as FastStream would."""
    declared = await channel.declare_queue(
        queue.name, durable=queue.durable, arguments=dict(queue.arguments or {})
    )
    if exchange is not None:
        target = await declare_exchange(channel, exchange)
        await declared.bind(target, routing_key=queue.routing())
    return declared


STATUS_EVENTS = events_queue("status")
"""The status service's queue of every job event. Declared by every publisher too, so that
events wait for the status service instead of vanishing when it is not running."""


STATUS_COMMANDS_MAX = 1_000_000
"""Most command copies `status.commands` keeps while the status service is away (the oldest go first)."""

STATUS_COMMANDS = RabbitQueue(
    "status.commands", queue_type=QueueType.QUORUM, durable=True, routing_key="#",
    arguments={"x-max-length": STATUS_COMMANDS_MAX},
)
"""A copy of every command published to `ferry.commands`, whoever published it: the status service
records each as a pending job. Declared by every publisher, like `status.events`. No dead-lettering:
the service's own copy is the one that matters; this one only feeds the status view."""


RATELIMIT = RabbitQueue("ferry.ratelimit", durable=True, arguments={"x-single-active-consumer": True})
"""The rate limiter's requests and upstream feedback (docs/messages.md). Classic, not quorum:
acquire requests are transient. With a single active consumer, the one limiter replica that owns
the buckets gets every message; the others stand by. Declared by the limiter and its clients, so
feedback published before the limiter ever ran is kept."""


EXCHANGES = (COMMANDS, EVENTS, DLX)
"""Every ferry exchange."""

BASE_QUEUES: tuple[tuple[RabbitQueue, RabbitExchange], ...] = (
    (DEAD_LETTERS, DLX),
    (STATUS_EVENTS, EVENTS),
    (STATUS_COMMANDS, COMMANDS),
)
"""The queues every process declares, whatever it runs, with the exchange each binds to: the
dead-letter queue and the status service's event and command queues (so nothing published while
the status service is away is lost)."""


async def declare_base(channel: aio_pika.abc.AbstractChannel) -> None:
    """The exchanges and `BASE_QUEUES`, through a bare aio-pika channel."""
    for exchange in EXCHANGES:
        await declare_exchange(channel, exchange)
    for queue, bound_to in BASE_QUEUES:
        await declare(channel, queue, bound_to)


async def declare_services(channel: aio_pika.abc.AbstractChannel, *services: str) -> None:
    """The base topology and the queues of `services`, so that commands published before a service
    starts wait for it."""
    await declare_base(channel)
    for service in services:
        for queue, exchange in service_queues(service):
            await declare(channel, queue, exchange)
