"""Running a job service: one process with its consumers, outbox relay and health endpoints.

A service module describes itself with a `JobServiceSpec` and calls `run(spec)`:

    ferry-<service>            consume commands and steps; serve /healthz /readyz /metrics
    ferry-<service> migrate    apply the service's migrations and exit

Its `lifespan` is an async context manager that receives a `ServiceContext` (settings, pool,
the fleet's rate limiter) and yields the service's handlers; what it opens (HTTP clients) it
closes when the service stops, after the consumers have stopped. See docs/adding-a-service.md.

The broker is started in a FastAPI lifespan (FastStream's own FastAPI plugin is deprecated), so
one uvicorn process serves both the consumers and the probes.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import asyncpg
import structlog
from fastapi import FastAPI
from faststream.middlewares import AckPolicy
from faststream.rabbit import Channel, RabbitBroker
from faststream.rabbit.annotations import RabbitMessage
from prometheus_client import Counter

from ferry import topology
from ferry.db import Migration, create_pool, ensure_database, migrate, runtime_migrations, schema_name
from ferry.jobs.delivery import Delivery, Outcome, Verdict
from ferry.jobs.limits import RuntimeLimits
from ferry.jobs.model import JobHandler
from ferry.jobs.runtime import JobRuntime
from ferry.jobs.steps import RunningSteps
from ferry.messaging import Publisher, make_broker
from ferry.ratelimit import AmqpLimiter, Limiter
from ferry.serve import add_probes, database_ready, serve
from ferry.settings import FerrySettings

log = structlog.get_logger(__name__)

DELIVERIES = Counter("ferry_deliveries_total", "Deliveries handled", ["service", "queue", "verdict"])
S = TypeVar("S", bound=FerrySettings)

Handlers = Sequence[JobHandler[Any, Any, Any]]


@dataclass
class ServiceContext(Generic[S]):
    """What a service's lifespan gets to build its handlers from."""

    service: str
    settings: S
    pool: asyncpg.Pool
    running: RunningSteps = field(default_factory=RunningSteps)

    @asynccontextmanager
    async def limiter(self, *, timeout_s: float = 10.0) -> AsyncIterator[Limiter]:
        """The fleet's rate limiter (the rate-limiter service, over RabbitMQ), closed on exit.

        While it does not answer, the running steps' heartbeats say they wait for it.
        """
        limiter = await AmqpLimiter.connect(
            self.settings.amqp_url.get_secret_value(), client=f"{self.service}@{socket.gethostname()}:{os.getpid()}",
            timeout_s=timeout_s,
            on_waiting=lambda waiting: self.running.set_status("waiting for the rate limiter" if waiting else ""),
        )
        try:
            yield limiter
        finally:
            await limiter.close()


Lifespan = Callable[[ServiceContext[Any]], AbstractAsyncContextManager[Handlers]]
"""An async context manager factory: given the context, yields the handlers, closes what it opened."""


def handlers_only(make: Callable[[ServiceContext[Any]], Handlers]) -> Lifespan:
    """A lifespan for handlers that hold nothing to close."""

    @asynccontextmanager
    async def lifespan(ctx: ServiceContext[Any]) -> AsyncIterator[Handlers]:
        yield make(ctx)

    return lifespan


@dataclass(frozen=True)
class JobServiceSpec:
    """What a job service is: its name, migrations, lifespan (handlers) and own settings."""

    service: str
    migrations: list[Migration]
    lifespan: Lifespan
    settings_model: type[FerrySettings] = FerrySettings
    on_startup: Callable[[asyncpg.Connection, Any], Awaitable[None]] | None = None
    """Runs after migrations, at start-up and in `migrate` (e.g. check a configured table exists)."""


async def prepare_database(spec: JobServiceSpec, settings: FerrySettings) -> list[str]:
    """Create the database if needed, apply runtime and service migrations, run `on_startup`."""
    dsn = settings.database_url.get_secret_value()
    await ensure_database(dsn)
    conn = await asyncpg.connect(dsn)
    try:
        applied = await migrate(conn, schema_name(spec.service), [*runtime_migrations(), *spec.migrations])
        if spec.on_startup is not None:
            await spec.on_startup(conn, settings)
        return applied
    finally:
        await conn.close()


class InFlight:
    """Deliveries being handled now, so readiness drops when one is held for too long."""

    def __init__(self) -> None:
        self._started: dict[int, float] = {}
        self._keys = itertools.count()

    @contextlib.contextmanager
    def holding(self) -> Any:
        key = next(self._keys)
        self._started[key] = time.monotonic()
        try:
            yield
        finally:
            self._started.pop(key, None)

    def oldest_s(self) -> float:
        return max((time.monotonic() - t for t in self._started.values()), default=0.0)


def _raw_body(message: Any) -> bytes:
    """Hand the body over undecoded: ferry parses it itself and dead-letters what is not valid."""
    body: bytes = message.body
    return body


def subscribe(broker: RabbitBroker, runtime: JobRuntime, prefetch: int, in_flight: InFlight) -> None:
    """Attach the runtime to the service's command, step and dead-step queues (manual acks).

    Every delivery is settled: a verdict acks or requeues it, and anything that escapes the
    runtime requeues it (the queue's delivery limit bounds that), so none holds a prefetch slot.
    """
    service = runtime.service

    async def consume(queue: str, handle: Callable[[Delivery], Awaitable[Outcome]], message: Any) -> None:
        raw = message.raw_message
        delivery = Delivery(
            body=message.body, routing_key=raw.routing_key or "", headers=dict(raw.headers or {}),
            content_type=raw.content_type, message_id=raw.message_id,
        )
        with in_flight.holding():
            try:
                outcome = await handle(delivery)
            except Exception:
                log.exception("delivery not handled; requeued", queue=queue, routing_key=delivery.routing_key)
                outcome = Outcome(Verdict.REQUEUE)
            DELIVERIES.labels(service, queue, outcome.verdict.value).inc()
            try:
                if outcome.verdict is Verdict.ACK:
                    await message.ack()
                else:
                    await message.nack(requeue=True)
            except Exception as exc:  # the channel is gone: the broker redelivers the message
                log.warning("could not settle a delivery", queue=queue, error=repr(exc))
            await runtime.publish_committed(outcome.committed)  # after the ack: see Outcome

    @broker.subscriber(
        topology.command_queue(service), topology.COMMANDS, ack_policy=AckPolicy.MANUAL,
        channel=Channel(prefetch_count=8), title=f"{service}.commands", decoder=_raw_body,
    )
    async def on_command(message: RabbitMessage) -> None:
        await consume("commands", runtime.on_command, message)

    @broker.subscriber(
        topology.step_queue(service), ack_policy=AckPolicy.MANUAL,
        channel=Channel(prefetch_count=prefetch), title=f"{service}.steps", decoder=_raw_body,
    )
    async def on_step(message: RabbitMessage) -> None:
        await consume("steps", runtime.on_step, message)

    @broker.subscriber(
        topology.dead_step_queue(service), topology.DLX, ack_policy=AckPolicy.MANUAL,
        channel=Channel(prefetch_count=4), title=f"{service}.steps.dead", decoder=_raw_body,
    )
    async def on_dead_step(message: RabbitMessage) -> None:
        await consume("steps.dead", runtime.on_dead_step, message)


def consumers_alive(broker: RabbitBroker) -> bool:
    """True while every subscriber holds a consumer on an open channel (lost after some restarts)."""
    for sub in broker.subscribers:
        queue = getattr(sub, "_queue_obj", None)
        if queue is None or getattr(sub, "_consumer_tag", None) is None or queue.channel.is_closed:
            return False
    return True


def create_app(spec: JobServiceSpec, settings: FerrySettings) -> FastAPI:
    state: dict[str, Any] = {}
    in_flight = InFlight()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await prepare_database(spec, settings)
        pool = await create_pool(settings.database_url.get_secret_value(), max_size=settings.step_concurrency + 4)
        context: ServiceContext[Any] = ServiceContext(spec.service, settings, pool)
        try:
            async with spec.lifespan(context) as handlers:
                broker = make_broker(settings, app_id=spec.service)
                # One connection: FastStream consumes on it, the publisher (which declares the
                # service's queues, parking ones included) has its own confirmed channel on it.
                publisher = await Publisher.open(await broker.connect(), app_id=spec.service, services=[spec.service])
                runtime = JobRuntime(
                    spec.service, handlers, pool, publisher, RuntimeLimits.of(settings), context.running
                )
                subscribe(broker, runtime, settings.step_concurrency, in_flight)
                await broker.start()
                relay = asyncio.create_task(runtime.outbox.relay())
                state.update(pool=pool, broker=broker)
                _app.state.runtime = runtime
                log.info("service ready", handlers=sorted(runtime.handlers))
                try:
                    yield
                finally:
                    relay.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await relay
                    await broker.stop()  # consumers first: the handlers' resources close after
        finally:
            await pool.close()

    app = FastAPI(title=f"ferry {spec.service}", lifespan=lifespan)

    async def checks() -> dict[str, bool]:
        broker: RabbitBroker | None = state.get("broker")
        return {
            "broker": broker is not None and await broker.ping(timeout=2),
            "consumers": broker is not None and consumers_alive(broker),
            "deliveries": in_flight.oldest_s() < settings.delivery_wedged_after_s,
            "database": await database_ready(state.get("pool")),
        }

    add_probes(app, checks)
    return app


def run(spec: JobServiceSpec, argv: Sequence[str] | None = None) -> None:
    """The console script: `ferry-<service>` serves; `ferry-<service> migrate` migrates and exits."""
    settings = spec.settings_model()
    serve(
        spec.service, settings, app=lambda: create_app(spec, settings),
        migrate=lambda: prepare_database(spec, settings), argv=argv,
    )
