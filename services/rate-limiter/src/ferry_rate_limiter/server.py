"""The limiter's consumer: answers acquire requests, applies feedback, saves the buckets.

Hot path: one channel without publisher confirms, consumed through aio-pika's own transport
(aiormq) rather than its message objects, which cost as much CPU as the limiter's work; each
request is reserved in memory, answered on its `reply_to` at once (no drain awaited), and
acknowledged a few ms later in one `multiple` ack with the others (`acks`).

Ownership. Every replica consumes the single-active-consumer queue; the broker delivers to one.
A replica's first delivery makes it take the owner lease (`lease`) and load the buckets, so it
carries on from the last save of the replica before it. Every save renews the lease in its own
transaction, naming the lease's epoch: a replica that lost the lease (paused, then resumed after
a standby took over) writes nothing and stops serving. A graceful hand-over is exact: the leaving
replica stops consuming, saves, and only then releases the lease. A replica killed or paused
loses at most `rate_limiter_save_ms` of reservations (pauses are saved before the feedback that
caused them is acknowledged); the broker gives the queue to a standby once the AMQP heartbeat
misses, and the lease expires by then, both within `rate_limiter_takeover_s`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
import uuid
from typing import Any, cast

import aio_pika
import aio_pika.abc
import aiormq
import aiormq.abc
import asyncpg
import structlog
from aiormq import spec
from prometheus_client import Counter, Gauge, Histogram
from pydantic import ValidationError

from ferry.contracts.ratelimit import AcquireReply, AcquireRequest, UpstreamFeedback
from ferry.messaging import Publisher
from ferry.ratelimit import wire
from ferry.ratelimit.core import TokenBuckets
from ferry_rate_limiter import store
from ferry_rate_limiter.acks import AckBatcher
from ferry_rate_limiter.lease import LeaseBusy, LeaseLost, OwnerLease
from ferry_rate_limiter.settings import RateLimiterSettings

log = structlog.get_logger(__name__)

ACQUIRES = Counter("ferry_ratelimit_acquires_total", "Acquire requests answered", ["outcome"])
FEEDBACK = Counter("ferry_ratelimit_feedback_total", "Upstream feedback applied", ["outcome"])
WAITS = Histogram(
    "ferry_ratelimit_wait_seconds", "Waits handed out", buckets=(0, 0.01, 0.1, 0.5, 1, 5, 30, 60, 300, 3600)
)
ANSWERED = {outcome: ACQUIRES.labels(outcome) for outcome in ("now", "wait", "paused")}
OWNER = Gauge("ferry_ratelimit_owner", "1 while this replica owns the buckets (is the active consumer)")
BUCKETS = Gauge("ferry_ratelimit_buckets", "Buckets held in memory")
SAVE_ERRORS = Counter("ferry_ratelimit_save_errors_total", "Failed saves of bucket state (retried)")
LEASES_LOST = Counter("ferry_ratelimit_leases_lost_total", "Times this replica found another had taken over")


class LimiterServer:
    """One replica of the limiter: consumer, owner lock, write-behind of the buckets."""

    def __init__(self, buckets: TokenBuckets, pool: asyncpg.Pool, settings: RateLimiterSettings) -> None:
        self.buckets = buckets
        self.pool = pool
        self.settings = settings
        self.owner = False
        holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.lease = OwnerLease(holder, settings.lease_ttl_s)
        self._owner_lock = asyncio.Lock()
        self._save_lock = asyncio.Lock()
        self._save_now = asyncio.Event()
        self._unacked_feedback: list[tuple[aiormq.abc.AbstractChannel, int]] = []
        self._background: set[asyncio.Future[None]] = set()
        self._connection: aio_pika.abc.AbstractRobustConnection | None = None
        self._channel: aio_pika.abc.AbstractRobustChannel | None = None
        self._publisher: Publisher | None = None  # dead letters of invalid messages
        self._consumer_channel: aiormq.abc.AbstractChannel | None = None
        self._consumer_tag: str | None = None
        self._acks = AckBatcher()
        self._tasks: list[asyncio.Task[None]] = []
        self._inflight = 0

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect, declare the queue and consume it (as the active consumer or a standby)."""
        url = self.settings.amqp_url.get_secret_value()
        # A short heartbeat: the broker hands the queue to a standby soon after this replica goes silent.
        self._connection = await aio_pika.connect_robust(
            url, heartbeat=self.settings.amqp_heartbeat_s, client_properties={"connection_name": "rate-limiter"}
        )
        channel = await self._connection.channel(publisher_confirms=False)
        assert isinstance(channel, aio_pika.abc.AbstractRobustChannel)
        self._channel = channel
        await channel.set_qos(prefetch_count=self.settings.rate_limiter_prefetch)
        await wire.declare_queue(channel)
        # Invalid messages go to `ferry.dlx` with their reason, through the publisher every ferry
        # process uses (opening it declares the base topology).
        self._publisher = await Publisher.open(self._connection, app_id="rate-limiter")
        # Lost the broker: another replica may become active, so give up ownership (after saving).
        self._connection.close_callbacks.add(self._on_lost)
        channel.reopen_callbacks.add(self._on_reopen)
        await self._consume()
        self._tasks = [
            asyncio.create_task(self._save_loop(), name="rate-limiter-saver"),
            asyncio.create_task(self._acks.run(), name="rate-limiter-acks"),
        ]
        log.info("rate limiter consuming", queue=wire.QUEUE)

    async def _consume(self) -> None:
        # Consumed on the transport channel, so the robust channel does not restore it: `_on_reopen` does.
        assert self._channel is not None
        channel = await self._channel.get_underlay_channel()
        ok = await channel.basic_consume(wire.QUEUE, self._on_message)
        self._consumer_channel, self._consumer_tag = channel, ok.consumer_tag

    async def _on_reopen(self, *_: Any) -> None:
        self._on_lost()
        await self._consume()

    async def stop(self) -> None:
        """Hand over cleanly: stop consuming, finish in-flight messages, save, unlock, disconnect."""
        if self._consumer_channel is not None and self._consumer_tag is not None:
            with contextlib.suppress(Exception):
                await self._consumer_channel.basic_cancel(self._consumer_tag)
            self._consumer_tag = None
        for _ in range(100):
            if not self._inflight:
                break
            await asyncio.sleep(0.01)
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._release()
        with contextlib.suppress(Exception):
            await self._acks.flush()
        if self._publisher is not None:
            await self._publisher.close()
        if self._connection is not None:
            await self._connection.close()

    def consuming(self) -> bool:
        """True while the consumer is registered on an open channel (active or standby)."""
        channel, connection = self._channel, self._connection
        return (
            self._consumer_tag is not None and channel is not None and not channel.is_closed
            and connection is not None and not connection.is_closed
        )

    # -- deliveries ----------------------------------------------------------------------------

    async def _on_message(self, message: aiormq.abc.DeliveredMessage) -> None:
        channel, tag = message.channel, message.delivery_tag
        assert tag is not None
        self._acks.delivered(channel, tag)
        self._inflight += 1
        try:
            if not self.owner or not self.lease.trusted():
                try:
                    await self._take_over()
                except Exception as exc:  # Postgres unreachable: fail closed, clients wait and ask again
                    log.warning("cannot take over the buckets yet", error=repr(exc))
                    await asyncio.sleep(1.0)
                    with contextlib.suppress(Exception):
                        await channel.basic_nack(tag, requeue=message.header.properties.message_type == wire.FEEDBACK)
                    self._acks.dropped(channel, tag)
                    return
            if message.header.properties.message_type == wire.FEEDBACK:
                self._on_feedback(message.body, channel, tag)
            else:
                try:
                    await self._on_acquire(message)
                finally:  # even unanswered: the client asks again after its timeout
                    self._acks.finished(channel, tag)
        finally:
            self._inflight -= 1

    async def _on_acquire(self, message: aiormq.abc.DeliveredMessage) -> None:
        try:
            request = AcquireRequest.model_validate_json(message.body)
        except ValidationError as exc:
            log.warning("invalid acquire request dead-lettered", error=str(exc)[:500])
            ACQUIRES.labels("invalid").inc()
            await self._dead_letter(message.body, f"not an acquire request: {exc.errors()[0]['msg']}")
            return
        grant = self.buckets.acquire(request.key, request.tokens, rate=request.rate, burst=request.burst)
        reply_to = message.header.properties.reply_to
        if reply_to:
            reply = AcquireReply(
                key=grant.key, wait_s=grant.wait_s, paused_until=grant.paused_until, due_at=grant.due_at
            )
            correlation_id = message.header.properties.correlation_id
            properties = spec.Basic.Properties(
                content_type="application/json", correlation_id=correlation_id, message_id=correlation_id,
                delivery_mode=1,
            )
            # No drain awaited: the reply is queued for the socket, and the next request can be handled.
            await cast(aiormq.Channel, message.channel).basic_publish(
                reply.model_dump_json().encode(), routing_key=reply_to, properties=properties, wait=False
            )
        ANSWERED["paused" if grant.paused_until else "wait" if grant.wait_s > 0 else "now"].inc()
        WAITS.observe(grant.wait_s)

    async def _dead_letter(self, body: bytes, reason: str) -> None:
        """A copy in `ferry.dlx` with the reason; the original is settled as usual. Best effort: an
        unanswered acquire costs nothing (its client asks again), and the caller logged why."""
        if self._publisher is None:
            return
        try:
            await self._publisher.dead_letter(wire.QUEUE, body, reason=reason, service="rate-limiter")
        except Exception as exc:  # best effort, see above
            log.warning("dead letter not published", reason=reason, error=repr(exc))

    def _spawn(self, work: Any) -> None:
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _on_feedback(self, body: bytes, channel: aiormq.abc.AbstractChannel, tag: int) -> None:
        # Acknowledged only once saved: a feedback in RabbitMQ or in Postgres, never in neither.
        self._unacked_feedback.append((channel, tag))
        try:
            feedback = UpstreamFeedback.model_validate_json(body)
        except ValidationError as exc:
            log.warning("invalid feedback dead-lettered", error=str(exc)[:500])
            FEEDBACK.labels("invalid").inc()
            self._spawn(self._dead_letter(body, f"not upstream feedback: {exc.errors()[0]['msg']}"))
            return
        paused = self.buckets.feedback(feedback)
        if paused:
            until = self.buckets.paused_until(feedback.key)
            log.warning(
                "key paused by its upstream", key=feedback.key, status=feedback.status,
                paused_s=round((until or time.time()) - time.time(), 1), secondary=feedback.secondary,
                retry_after_s=feedback.retry_after_s,
            )
            self._save_now.set()
        FEEDBACK.labels("paused" if paused else "applied").inc()

    # -- ownership -----------------------------------------------------------------------------

    async def _take_over(self) -> None:
        """Become (or make sure this replica still is) the owner: take the lease, load the buckets.

        An owner whose lease is no longer trusted locally renews it first (LeaseLost if another
        replica took over meanwhile). A leaving owner releases the lease at once; a vanished one's
        expires: wait up to one lease's length for either, then LeaseBusy.
        """
        async with self._owner_lock:
            if self.owner:
                if not self.lease.trusted():
                    await self._renew_or_lose()
                return
            started = time.monotonic()
            logged = False
            while True:
                async with self.pool.acquire() as conn:
                    if await self.lease.try_take(conn):
                        saved = await store.load(conn)
                        break
                if time.monotonic() - started > self.lease.ttl_s * 1.5:
                    raise LeaseBusy("another replica holds the owner lease and renews it")
                if not logged:
                    log.info("waiting for the previous owner of the buckets to hand over or its lease to expire")
                    logged = True
                await asyncio.sleep(0.05)
            self.buckets.replace(saved)
            self.owner = True
            OWNER.set(1)
            BUCKETS.set(len(self.buckets.buckets))
            log.info(
                "rate limiter active: buckets loaded", buckets=len(self.buckets.buckets), epoch=self.lease.epoch,
                paused=sorted(k for k in self.buckets.buckets if self.buckets.paused_until(k)),
                took_ms=round((time.monotonic() - started) * 1000, 1),
            )

    async def _renew_or_lose(self) -> None:
        try:
            async with self.pool.acquire() as conn:
                await self.lease.renew(conn)
        except LeaseLost as exc:
            self._lost(exc)
            raise

    def _lost(self, exc: LeaseLost) -> None:
        """Another replica owns the buckets now: drop what is in memory unsaved, serve nothing."""
        if not self.owner:
            return
        self.owner = False
        self.lease.forget()
        OWNER.set(0)
        LEASES_LOST.inc()
        unsaved = len(self.buckets.dirty)
        self.buckets.replace([])
        self._unacked_feedback = []  # never acknowledged: redelivered to the owner
        log.warning("rate limiter lost the owner lease: not serving nor saving", reason=str(exc),
                    unsaved_buckets=unsaved)

    async def _release(self) -> None:
        """Save what is pending and give up ownership (the next owner loads it)."""
        async with self._owner_lock:
            if not self.owner:
                return
            with contextlib.suppress(Exception):
                await self.save()
            if not self.owner:  # the save found the lease lost
                return
            self.owner = False
            OWNER.set(0)
            with contextlib.suppress(Exception):
                async with self.pool.acquire() as conn:
                    await self.lease.release(conn)
            self.lease.forget()
            log.info("rate limiter released the buckets")

    def _on_lost(self, *_: Any) -> None:
        if self.owner:
            task = asyncio.ensure_future(self._release())
            task.add_done_callback(lambda t: t.cancelled() or t.exception())

    # -- write-behind --------------------------------------------------------------------------

    async def save(self) -> None:
        """Save changed buckets under the lease (renewing it), then acknowledge the feedback they include."""
        async with self._save_lock:
            changed = self.buckets.take_dirty()
            acks, self._unacked_feedback = self._unacked_feedback, []
            try:
                async with self.pool.acquire() as conn, conn.transaction():
                    await self.lease.renew(conn)  # first: fences the writes below
                    assert self.lease.epoch is not None
                    await store.save(conn, changed, self.lease.epoch)
            except LeaseLost as exc:
                self._lost(exc)
                raise
            except Exception:
                SAVE_ERRORS.inc()
                self.buckets.dirty.update(changed)
                self._unacked_feedback[:0] = acks
                raise
            for channel, tag in acks:  # a gone channel's deliveries are redelivered: the batcher skips them
                self._acks.finished(channel, tag)

    async def _save_loop(self) -> None:
        interval = self.settings.rate_limiter_save_ms / 1000
        next_prune = time.monotonic() + self.settings.rate_limiter_prune_s
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._save_now.wait(), interval)
            self._save_now.clear()
            if not self.owner or not (self.buckets.dirty or self._unacked_feedback or self.lease.heartbeat_due()):
                continue
            try:
                await self.save()
                if time.monotonic() >= next_prune:
                    next_prune = time.monotonic() + self.settings.rate_limiter_prune_s
                    gone = self.buckets.prune()
                    async with self.pool.acquire() as conn, conn.transaction():
                        await self.lease.renew(conn)
                        assert self.lease.epoch is not None
                        await store.forget(conn, gone, self.lease.epoch)
                BUCKETS.set(len(self.buckets.buckets))
            except LeaseLost as exc:
                self._lost(exc)
            except Exception as exc:
                log.warning("saving the buckets failed, retrying", error=repr(exc))
                await asyncio.sleep(min(1.0, interval * 5))
