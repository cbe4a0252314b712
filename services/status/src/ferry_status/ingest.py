"""The event ingester: `status.events` -> Postgres, in batches, acknowledged only after commit.

FastStream has no batch consumer for RabbitMQ, so this consumes with aio-pika directly: the
broker hands over up to `prefetch` unacknowledged deliveries; one task parses them as they
arrive, another writes what has been parsed (up to `batch` events, waiting at most `wait_ms`
for a batch to fill, or until it is full while the queue holds undelivered events) in one
transaction and acknowledges it with one `multiple` ack once the rows are committed.
While Postgres is unreachable the batch is kept and the write retried; nothing is acked, so
nothing is lost. Storage is idempotent by `event_id`, so redeliveries are harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import aio_pika
import asyncpg
import structlog
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustChannel, AbstractRobustConnection
from pydantic import ValidationError
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, wait_exponential_jitter

from ferry import topology
from ferry.contracts import JobEvent
from ferry.jobs.infra import is_outage
from ferry.messaging import Publisher
from ferry_status import store
from ferry_status.consumers import consumer_problem
from ferry_status.metrics import Metrics
from ferry_status.settings import StatusSettings

log = structlog.get_logger(__name__)

Parsed = tuple[AbstractIncomingMessage, JobEvent, str]
COLLECT_CHUNK = 1000
"""Deliveries parsed before the writer is told there is work (the writer takes all there is)."""
GC_YOUNG_THRESHOLD = 50_000
"""Allocations between two young garbage collections while the ingester runs (Python's default: 700)."""


def parse(body: bytes) -> tuple[JobEvent, str] | str:
    """The event and its JSON text, or why the body is not a job event."""
    try:
        text = body.decode()
    except UnicodeDecodeError:
        return "body is not UTF-8 text"
    try:
        return JobEvent.model_validate_json(text), text
    except ValidationError as exc:
        problems = [f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in exc.errors()[:5]]
        return "not a job event: " + "; ".join(problems)


def _worth_retrying(exc: BaseException) -> bool:
    """Everything but Postgres refusing the data: outages, and the client-side errors a
    connection dropped mid-statement leaves behind (e.g. asyncpg's InternalClientError)."""
    if not isinstance(exc, Exception):  # cancellation and exits are never retried
        return False
    return is_outage(exc) or not isinstance(exc, asyncpg.PostgresError)


class Ingester:
    """Consumes `status.events` into the `status` schema until stopped."""

    def __init__(
        self, connection: AbstractRobustConnection, publisher: Publisher, pool: asyncpg.Pool,
        settings: StatusSettings, metrics: Metrics,
    ) -> None:
        self._connection = connection
        self._publisher = publisher  # dead letters go out the way every ferry process sends them
        self._pool = pool
        self._settings = settings
        self._metrics = metrics
        self._notify = store.NotifyFilter(
            statuses=tuple(settings.status_notify_on), services=tuple(settings.status_notify_services),
            has_url=settings.status_notify_url is not None,
        )
        self._inbox: asyncio.Queue[AbstractIncomingMessage] = asyncio.Queue()
        self._channel: AbstractRobustChannel | None = None
        self._queue: aio_pika.abc.AbstractQueue | None = None
        self._depth_channel: aio_pika.abc.AbstractChannel | None = None
        self._backlog = False  # the queue holds events not yet delivered (see _watch_depth)
        self._tag: str | None = None
        self._pending: list[Parsed] = []  # parsed, in delivery order, not yet taken by the writer
        self._ready = asyncio.Event()  # something is pending
        self._full = asyncio.Event()  # a whole batch is pending
        self._pending_since = 0.0  # loop time the oldest pending event was parsed
        self._tasks: list[asyncio.Task[None]] = []
        self._idle = asyncio.Event()
        self._idle.set()
        self._stopping = False
        # A batch is full at `batch` events, or at all the broker will hand over before an ack.
        self._fills = min(settings.status_ingest_batch, settings.status_ingest_prefetch)
        self.db_available = True

    async def start(self) -> None:
        """Declare the queue (and the exchanges it needs) and start consuming."""
        # Up to `prefetch` deliveries and their parsed events are alive at once, and each of them
        # outlives a few hundred young collections: with the default threshold the collector
        # walks them over and over (a fifth of the process's CPU while draining a deep queue).
        young, *older = gc.get_threshold()
        gc.set_threshold(max(young, GC_YOUNG_THRESHOLD), *older)
        channel = await self._connection.channel(publisher_confirms=False)
        assert isinstance(channel, AbstractRobustChannel)
        await channel.set_qos(prefetch_count=self._settings.status_ingest_prefetch)
        await topology.declare_base(channel)
        self._channel = channel
        self._queue = await topology.declare(channel, topology.STATUS_EVENTS, topology.EVENTS)
        # Until the depth probe first answers, the declaration's count says whether a backlog waits.
        declared = getattr(self._queue, "declaration_result", None)
        self._backlog = bool(declared and declared.message_count)
        self._tag = await self._queue.consume(self._on_message)
        self._tasks = [
            asyncio.create_task(self._guarded(self._collect), name="status-ingest-collect"),
            asyncio.create_task(self._guarded(self._write_batches), name="status-ingest-write"),
            asyncio.create_task(self._guarded(self._watch_depth), name="status-ingest-depth"),
        ]
        log.info("ingesting events", queue=topology.STATUS_EVENTS.name, batch=self._settings.status_ingest_batch,
                 prefetch=self._settings.status_ingest_prefetch)

    async def stop(self, grace_s: float = 30.0) -> None:
        """Stop consuming; let the batch being written commit and be acked, drop the rest (the
        broker redelivers what was not acked)."""
        self._stopping = True
        if self._queue is not None and self._tag is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._queue.cancel(self._tag), 5)
        collect, write, depth = self._tasks or (None, None, None)
        for task in (collect, depth):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), grace_s)
        if write is not None:
            write.cancel()
            await asyncio.gather(write, return_exceptions=True)
        for channel in (self._channel, self._depth_channel):
            if channel is not None:
                with contextlib.suppress(Exception):
                    await channel.close()

    async def consuming(self) -> str | None:
        """None when the consumer is registered on an open channel, else what is wrong."""
        if not self._tasks:
            return "not started"
        if any(task.done() for task in self._tasks):
            return "ingest loop stopped"
        return await consumer_problem(self._channel, self._tag)

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        self._inbox.put_nowait(message)

    async def _guarded(self, loop: Callable[[], Awaitable[None]]) -> None:
        try:
            await loop()
        except asyncio.CancelledError:
            raise
        except BaseException:
            # Readiness reports the stopped loop; the unacked events stay in RabbitMQ.
            log.exception("event ingester stopped")
            raise

    async def _collect(self) -> None:
        """Parse deliveries as they come, reject what is not a job event, queue the rest for the
        writer (so parsing overlaps the writer's wait on Postgres)."""
        while True:
            batch = [await self._inbox.get()]
            while len(batch) < COLLECT_CHUNK and not self._inbox.empty():
                batch.append(self._inbox.get_nowait())
            for message in batch:
                parsed = parse(message.body)
                if isinstance(parsed, str):
                    await self._reject(message, parsed)
                else:
                    if not self._pending:
                        self._pending_since = asyncio.get_running_loop().time()
                    self._pending.append((message, *parsed))
            if self._pending:
                self._ready.set()
            if len(self._pending) >= self._fills:
                self._full.set()

    async def _write_batches(self) -> None:
        """Write what has been parsed (up to `batch` events, lingering `wait_ms` for a batch to
        fill) in one transaction, in delivery order, and acknowledge it after the commit. Large
        batches matter: each job's row is then updated once for many of its events."""
        loop = asyncio.get_running_loop()
        limit = self._settings.status_ingest_batch
        linger = self._settings.status_ingest_wait_ms / 1000
        while True:
            await self._ready.wait()
            left = self._pending_since + linger - loop.time()
            if len(self._pending) < limit and left > 0:
                await self._wait_full(left)
            while linger > 0 and not self._full.is_set() and not self._stopping and self._backlog:
                await self._wait_full(linger)
            good, self._pending = self._pending[:limit], self._pending[limit:]
            self._pending_since = loop.time()
            if len(self._pending) < self._fills:
                self._full.clear()
            if not self._pending:
                self._ready.clear()
            self._idle.clear()
            try:
                await self._write(good)
                await self._ack([m for m, _, _ in good])
            finally:
                self._idle.set()

    async def _wait_full(self, seconds: float) -> None:
        """Until a batch is full, at most `seconds`. A batch that waited `wait_ms` goes on
        filling while `_backlog`: its events are late already, and one large batch stores them
        faster than many small ones."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._full.wait(), seconds)

    async def _watch_depth(self) -> None:
        """Keep `_backlog` telling whether the queue holds events the broker has not handed over
        yet. Asked on a channel of its own (a slow answer holds up nothing, and an error there
        cannot close the consumer's channel), every half `wait_ms`."""
        interval = max(0.05, self._settings.status_ingest_wait_ms / 2000)
        channel: aio_pika.abc.AbstractChannel | None = None
        while True:
            try:
                if channel is None or channel.is_closed:
                    channel = self._depth_channel = await self._connection.channel(publisher_confirms=False)
                transport = await channel.get_underlay_channel()
                declared = await transport.queue_declare(topology.STATUS_EVENTS.name, passive=True)
                self._backlog = bool(declared.message_count)
            except Exception as exc:  # the broker is away: no backlog known; ask again later
                self._backlog = False
                log.debug("queue depth unknown", error=repr(exc))
            await asyncio.sleep(interval)

    async def _write(self, good: list[Parsed]) -> None:
        started = asyncio.get_running_loop().time()
        try:
            inserted, _ = await self._store([(e, t) for _, e, t in good])
        except asyncpg.PostgresError as exc:
            if self._stopping:
                raise
            # One bad row (e.g. a NUL character jsonb refuses) must not block the queue: write the
            # events one by one and dead-letter only those Postgres refuses.
            log.warning("batch refused by Postgres, writing its events one by one", error=str(exc)[:500])
            inserted = 0
            for message, event, text in list(good):
                try:
                    inserted += (await self._store([(event, text)]))[0]
                except asyncpg.PostgresError as one:
                    good.remove((message, event, text))
                    await self._reject(message, f"refused by Postgres: {str(one)[:300]}")
        self._metrics.batch_seconds.observe(asyncio.get_running_loop().time() - started)
        self._metrics.batch_size.observe(len(good))
        self._metrics.events_ingested.inc(inserted)
        self._metrics.events_duplicate.inc(len(good) - inserted)
        if good:
            newest = max(e.at for _, e, _ in good)
            self._metrics.ingest_lag.set(max(0.0, (datetime.now(UTC) - newest).total_seconds()))

    async def _store(self, events: list[tuple[JobEvent, str]]) -> tuple[int, int]:
        """Write one batch, retrying through Postgres outages (until stopped); never gives up on
        an outage, because the events are still unacknowledged in RabbitMQ's hands and ours."""
        async for attempt in AsyncRetrying(
            retry=retry_if_exception(_worth_retrying),
            wait=wait_exponential_jitter(multiplier=0.2, max=5, jitter=0.3),
            stop=lambda _state: self._stopping,
            reraise=True,
            before_sleep=self._on_retry,
        ):
            with attempt:
                async with self._pool.acquire(timeout=10) as conn:
                    result = await store.write_events(conn, events, self._notify)
                self.db_available = True
                return result
        raise AssertionError("unreachable")  # pragma: no cover

    def _on_retry(self, state: RetryCallState) -> None:
        self.db_available = False
        self._metrics.db_retries.inc()
        error = state.outcome.exception() if state.outcome else None
        log.warning("postgres unavailable, batch kept for retry", attempt=state.attempt_number, error=repr(error))

    async def _reject(self, message: AbstractIncomingMessage, reason: str) -> None:
        """Send `message` to `ferry.dlx` with the reason, then settle it. If the copy cannot be
        confirmed, the broker dead-letters the message itself (the queue's own dead-lettering,
        without the reason) rather than lose it."""
        self._metrics.events_rejected.inc()
        log.warning("rejected a message from status.events", reason=reason, routing_key=message.routing_key,
                    message_id=message.message_id)
        try:
            await self._dead_letter(message, reason)
        except Exception as exc:  # the fallback below keeps the message
            log.warning("dead letter copy not confirmed; the broker dead-letters it", error=repr(exc))
            with contextlib.suppress(Exception):  # a closed channel means the broker requeued it anyway
                await message.reject(requeue=False)
            return
        with contextlib.suppress(Exception):
            await message.ack()

    async def _dead_letter(self, message: AbstractIncomingMessage, reason: str) -> None:
        dead_letter = self._publisher.dead_letter(
            message.routing_key or "", message.body, reason=reason, service="status", headers=message.headers,
            content_type=message.content_type, message_id=message.message_id,
        )
        await asyncio.wait_for(dead_letter, 10)

    async def _ack(self, messages: list[AbstractIncomingMessage]) -> None:
        """One `multiple` ack per channel the messages came on (after a reconnect a batch can
        hold deliveries of the old, closed channel: the broker redelivers those itself)."""
        last: dict[int, AbstractIncomingMessage] = {}
        for message in messages:
            try:
                last[id(message.channel)] = message
            except Exception:  # noqa: S112 - its channel is gone; the broker requeued it
                continue
        for message in last.values():
            try:
                await message.ack(multiple=True)
            except Exception as exc:
                log.info("ack failed; the broker will redeliver (stored once by event_id)", error=repr(exc))
