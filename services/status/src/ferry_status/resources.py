"""What the status service holds while it runs: the Postgres pool, the RabbitMQ connection, the
command publisher and the event ingester. Opened in the FastAPI lifespan, closed after it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import aio_pika
import asyncpg
import structlog
from aio_pika.abc import AbstractRobustConnection
from tenacity import AsyncRetrying, retry_if_exception, stop_after_delay, wait_exponential_jitter

from ferry.contracts import JobEvent, services
from ferry.db import connect, create_pool, ensure_database
from ferry.jobs.infra import is_outage
from ferry.messaging import Publisher
from ferry_status import SERVICE, retention, store
from ferry_status.commands import CommandRecorder
from ferry_status.errors import PublishFailed
from ferry_status.ingest import Ingester
from ferry_status.metrics import Metrics
from ferry_status.notifications import Notifier
from ferry_status.periodic import Periodic
from ferry_status.scheduler import Scheduler
from ferry_status.settings import StatusSettings

log = structlog.get_logger(__name__)
PUBLISH_TIMEOUT_S = 10.0
STARTUP_WAIT_S = 60.0
T = TypeVar("T")


async def _when_reachable(what: str, call: Callable[[], Awaitable[T]]) -> T:
    """`call`, retried with backoff while Postgres or RabbitMQ is unreachable (at start-up)."""
    async for attempt in AsyncRetrying(
        retry=retry_if_exception(is_outage), wait=wait_exponential_jitter(multiplier=0.2, max=5, jitter=0.3),
        stop=stop_after_delay(STARTUP_WAIT_S), reraise=True,
        before_sleep=lambda s: log.warning("waiting for a dependency", what=what, attempt=s.attempt_number),
    ):
        with attempt:
            return await call()
    raise AssertionError("unreachable")  # pragma: no cover


class Sender:
    """What the status service publishes, through `ferry.messaging.Publisher` (which declares every
    known service's queues), with a time bound and the service's own error: commands (the API,
    the dashboard, the scheduler), operators' events (the dashboard) and dead letters (the ingester)."""

    def __init__(self, publisher: Publisher) -> None:
        self.publisher = publisher

    @classmethod
    async def open(cls, connection: AbstractRobustConnection) -> Sender:
        return cls(await Publisher.open(connection, app_id=SERVICE, services=services()))

    async def publish(self, routing_key: str, body: bytes, *, message_id: str) -> None:
        """Publish a command (`<service>.<command>`) to `ferry.commands`."""
        await self._bounded(routing_key, self.publisher.command(routing_key, body, message_id=message_id))

    async def event(self, event: JobEvent) -> None:
        """Publish an event to `ferry.events`, the way the job services do."""
        await self._bounded(event.routing_key, self.publisher.event(event))

    async def _bounded(self, what: str, publishing: Awaitable[None]) -> None:
        try:
            await asyncio.wait_for(publishing, PUBLISH_TIMEOUT_S)
        except (aio_pika.exceptions.AMQPError, OSError, RuntimeError, TimeoutError) as exc:
            raise PublishFailed(f"could not publish {what}: {type(exc).__name__}") from exc

    async def close(self) -> None:
        await self.publisher.close()


@dataclass
class Resources:
    settings: StatusSettings
    metrics: Metrics
    pool: asyncpg.Pool
    connection: AbstractRobustConnection
    publisher: Sender
    ingester: Ingester
    recorder: CommandRecorder
    loops: list[Periodic]
    scheduler: Scheduler | None = None
    notifier: Notifier | None = None

    @classmethod
    async def open(cls, settings: StatusSettings, metrics: Metrics) -> Resources:
        dsn = settings.database_url.get_secret_value()
        await _when_reachable("postgres", lambda: ensure_database(dsn))
        pool = await _when_reachable("postgres", lambda: create_pool(dsn, command_timeout=60))
        try:
            conn = await connect(dsn)
            try:
                applied = await store.apply_migrations(conn)
            finally:
                await conn.close()
            if applied:
                log.info("migrations applied", versions=applied)
            amqp_url = settings.amqp_url.get_secret_value()
            connection = await _when_reachable(
                "rabbitmq", lambda: aio_pika.connect_robust(amqp_url, reconnect_interval=2.0)
            )
        except BaseException:
            await pool.close()
            raise
        try:
            publisher = await Sender.open(connection)
            ingester = Ingester(connection, publisher.publisher, pool, settings, metrics)
            await ingester.start()
            recorder = CommandRecorder(connection, pool)
            await recorder.start()
        except BaseException:
            await connection.close()
            await pool.close()
            raise
        res = cls(settings, metrics, pool, connection, publisher, ingester, recorder, [])
        res.loops = background_loops(res)
        for loop in res.loops:
            loop.start()
        return res

    async def close(self) -> None:
        for loop in self.loops:
            await loop.stop()
        if self.notifier is not None:
            await self.notifier.close()
        await self.recorder.stop()
        await self.ingester.stop()
        await self.publisher.close()
        with contextlib.suppress(Exception):
            await self.connection.close()
        await self.pool.close()

    async def readiness(self) -> dict[str, str]:
        """`ok` or the problem, for the broker, the events consumer and the database."""
        checks = {"broker": "ok" if not self.connection.is_closed else "not connected"}
        checks["events_consumer"] = await self.ingester.consuming() or "ok"
        checks["commands_consumer"] = await self.recorder.consuming() or "ok"
        for loop in self.loops:
            checks[loop.name] = "ok" if loop.alive() else "stopped"
        try:
            await asyncio.wait_for(self.pool.fetchval("SELECT 1", timeout=2.0), 3.0)
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = f"unreachable ({type(exc).__name__})"
        return checks


def background_loops(res: Resources) -> list[Periodic]:
    """The loops every replica runs; each is safe to run on several replicas at once."""
    settings = res.settings

    async def check_stalled() -> None:
        stalled = await store.mark_stalled(res.pool, settings.status_stalled_after_s)
        for job_id in stalled:
            log.warning("job stalled: no event within the bound", job_id=str(job_id),
                        after_s=settings.status_stalled_after_s)

    async def publish(routing_key: str, body: bytes, message_id: str) -> None:
        await res.publisher.publish(routing_key, body, message_id=message_id)
        res.metrics.commands_published.labels(routing_key=routing_key).inc()

    res.scheduler = Scheduler(res.pool, publish, grace_s=settings.status_schedule_grace_s)
    stall_interval = min(30.0, max(0.5, settings.status_stalled_after_s / 10))
    async def retention_pass() -> None:
        await retention.run_if_due(res.pool, events_days=settings.status_retention_days,
                                   jobs_days=settings.job_retention_days, batch=settings.status_retention_batch)

    res.notifier = Notifier(res.pool, settings, res.metrics)
    return [
        Periodic("retention", 300.0, retention_pass),
        Periodic("stall_check", stall_interval, check_stalled),
        Periodic("scheduler", settings.status_scheduler_tick_s, res.scheduler.tick),
        Periodic("notifier", settings.status_notify_tick_s, res.notifier.tick),
    ]
