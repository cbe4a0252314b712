"""Running a job service: one process with its consumers, outbox relay and health endpoints.

A service module only describes itself with a `JobServiceSpec` and calls `run(spec)`:

    ferry-<service>            consume commands and steps; serve /healthz /readyz /metrics
    ferry-<service> migrate    apply the service's migrations and exit

The broker is started in a FastAPI lifespan (FACTS: the FastStream FastAPI plugin is
deprecated), so one uvicorn process serves both the consumers and the probes.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
import structlog
from fastapi import FastAPI
from faststream.middlewares import AckPolicy
from faststream.rabbit import Channel, RabbitBroker
from faststream.rabbit.annotations import RabbitMessage
from prometheus_client import Counter

from ferry import topology
from ferry.db import Migration, create_pool, ensure_database, migrate, runtime_migrations, schema_name
from ferry.jobs.model import JobHandler
from ferry.jobs.publisher import Delivery, Publisher, Verdict
from ferry.jobs.runtime import JobRuntime
from ferry.messaging import make_broker
from ferry.serve import add_probes, database_ready, serve
from ferry.settings import FerrySettings

log = structlog.get_logger(__name__)

DELIVERIES = Counter("ferry_deliveries_total", "Deliveries handled", ["service", "queue", "verdict"])


@dataclass(frozen=True)
class JobServiceSpec:
    """What a job service is: its name, migrations, handlers and own settings."""

    service: str
    migrations: list[Migration]
    handlers: Callable[[asyncpg.Pool, Any], Sequence[JobHandler[Any]]]
    settings_model: type[FerrySettings] = FerrySettings
    on_startup: Callable[[asyncpg.Connection, Any], Awaitable[None]] | None = None


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


def subscribe(broker: RabbitBroker, runtime: JobRuntime, prefetch: int) -> None:
    """Attach the runtime to the service's command and step queues (manual acks)."""
    service = runtime.service

    async def consume(queue: str, handle: Callable[[Delivery], Awaitable[Verdict]], message: Any) -> None:
        raw = message.raw_message
        delivery = Delivery(
            body=message.body, routing_key=raw.routing_key or "", headers=dict(raw.headers or {}),
            content_type=raw.content_type,
        )
        verdict = await handle(delivery)
        DELIVERIES.labels(service, queue, verdict.value).inc()
        if verdict is Verdict.ACK:
            await message.ack()
        else:
            await message.nack(requeue=True)

    @broker.subscriber(
        topology.command_queue(service), topology.COMMANDS, ack_policy=AckPolicy.MANUAL,
        channel=Channel(prefetch_count=8), title=f"{service}.commands",
    )
    async def on_command(message: RabbitMessage) -> None:
        await consume("commands", runtime.on_command, message)

    @broker.subscriber(
        topology.step_queue(service), ack_policy=AckPolicy.MANUAL,
        channel=Channel(prefetch_count=prefetch), title=f"{service}.steps",
    )
    async def on_step(message: RabbitMessage) -> None:
        await consume("steps", runtime.on_step, message)


async def declare_parking(broker: RabbitBroker, service: str) -> None:
    """The base topology and the parking queues (declared, never consumed)."""
    for queue in (topology.wait_queue(service, s) for s in topology.WAIT_TIERS_S):
        await broker.declare_queue(queue)
    for exchange in (topology.COMMANDS, topology.EVENTS, topology.DLX):
        await broker.declare_exchange(exchange)
    dead = await broker.declare_queue(topology.DEAD_LETTERS)
    await dead.bind(topology.DLX.name, routing_key="#")
    events = await broker.declare_queue(topology.STATUS_EVENTS)
    await events.bind(topology.EVENTS.name, routing_key="#")


def consumers_alive(broker: RabbitBroker) -> bool:
    """True while every subscriber holds a consumer on an open channel (lost after some restarts)."""
    for sub in broker.subscribers:
        queue = getattr(sub, "_queue_obj", None)
        if queue is None or getattr(sub, "_consumer_tag", None) is None or queue.channel.is_closed:
            return False
    return True


def create_app(spec: JobServiceSpec, settings: FerrySettings) -> FastAPI:
    state: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await prepare_database(spec, settings)
        pool = await create_pool(settings.database_url.get_secret_value(), max_size=settings.step_concurrency + 4)
        broker = make_broker(settings, app_id=spec.service)
        handlers = spec.handlers(pool, settings)
        runtime = JobRuntime(spec.service, handlers, pool, Publisher(broker))
        subscribe(broker, runtime, settings.step_concurrency)
        await broker.connect()
        await declare_parking(broker, spec.service)
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
            await broker.stop()
            for handler in handlers:  # handlers holding resources (HTTP clients) may close them
                aclose = getattr(handler, "aclose", None)
                if aclose is not None:
                    await aclose()
            await pool.close()

    app = FastAPI(title=f"ferry {spec.service}", lifespan=lifespan)

    async def checks() -> dict[str, bool]:
        broker: RabbitBroker | None = state.get("broker")
        return {
            "broker": broker is not None and await broker.ping(timeout=2),
            "consumers": broker is not None and consumers_alive(broker),
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
