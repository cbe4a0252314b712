"""`AmqpLimiter`: the fleet-wide limiter's client (request/reply over RabbitMQ).

One connection, one channel for requests with one consumer on RabbitMQ's direct reply-to
pseudo-queue, kept for the client's life; answers are matched to waiting calls by correlation id
(a reply consumer per call collapses at high rates: docs/messages.md). Feedback goes out persistent on a
second channel with publisher confirms.

The request path talks to aio-pika's transport channel (aiormq) directly: aio-pika's message
objects, its task per delivery and a drain awaited per publish cost more CPU than the rest of a
round trip, and at 1,000 acquires/s that CPU is the latency (see bench.limiter_latency).

Fail closed: a request the limiter does not answer within `timeout_s` expires in the queue and is
asked again after a backoff, for as long as it takes, logging "waiting for the rate limiter"; the
call is never let through unthrottled. `waiting_since` and the `on_waiting` callback let a job
report that it is waiting.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from typing import Any, Self, cast

import aio_pika
import aio_pika.abc
import aiormq
import aiormq.abc
import structlog
from aiormq import spec

from ferry.contracts.ratelimit import AcquireReply, AcquireRequest, UpstreamFeedback
from ferry.ratelimit import wire
from ferry.ratelimit.base import ReservingLimiter
from ferry.ratelimit.errors import LimiterClosed

log = structlog.get_logger(__name__)

WaitingCallback = Callable[[bool], None]
"""Called with True when the limiter stops answering, and with False when it answers again."""


class AmqpLimiter(ReservingLimiter):
    """Acquire tokens from the rate-limiter service; report upstream answers to it."""

    def __init__(
        self, connection: aio_pika.abc.AbstractRobustConnection, *, client: str, timeout_s: float = 2.0,
        max_backoff_s: float = 2.0, on_waiting: WaitingCallback | None = None,
    ) -> None:
        super().__init__(client)
        self.timeout_s = timeout_s
        self.max_backoff_s = max_backoff_s
        self.on_waiting = on_waiting
        self.waiting_since: float | None = None
        """Monotonic time since which the limiter has not answered; None while it answers."""
        self._connection = connection
        self._channel: aio_pika.abc.AbstractRobustChannel | None = None
        self._transport: aiormq.Channel | None = None  # the request channel's current transport channel
        self._ids = itertools.count()
        self._expiration = str(max(1, round(timeout_s * 1000)))  # ms: the request expires unanswered in the queue
        self._feedback_channel: aio_pika.abc.AbstractChannel | None = None
        self._pending: dict[str, asyncio.Future[bytes | None]] = {}
        self._closed = False

    @classmethod
    async def connect(
        cls, amqp_url: str, *, client: str, timeout_s: float = 2.0, on_waiting: WaitingCallback | None = None,
    ) -> Self:
        """Connect to the broker (robust: reconnects by itself) and start the reply consumer."""
        connection = await aio_pika.connect_robust(amqp_url, client_properties={"connection_name": client})
        limiter = cls(connection, client=client, timeout_s=timeout_s, on_waiting=on_waiting)
        try:
            await limiter._open()
        except BaseException:
            await connection.close()
            raise
        return limiter

    async def _open(self) -> None:
        channel = await self._connection.channel(publisher_confirms=False)
        assert isinstance(channel, aio_pika.abc.AbstractRobustChannel)
        self._channel = channel
        await wire.declare_queue(channel)
        await self._consume_replies()
        # The pseudo-queue is not restored with the channel: consume again after a reconnection.
        channel.reopen_callbacks.add(self._on_reopen)
        self._feedback_channel = await self._connection.channel(publisher_confirms=True)

    async def _consume_replies(self) -> None:
        assert self._channel is not None
        transport = cast(aiormq.Channel, await self._channel.get_underlay_channel())
        await transport.basic_consume(wire.DIRECT_REPLY_TO, self._on_reply, no_ack=True)
        self._transport = transport

    async def _on_reopen(self, *_: Any) -> None:
        assert self._channel is not None
        await wire.declare_queue(self._channel)
        await self._consume_replies()

    async def _on_reply(self, message: aiormq.abc.DeliveredMessage) -> None:
        future = self._pending.pop(message.header.properties.correlation_id or "", None)
        if future is not None and not future.done():
            future.set_result(message.body)

    async def close(self) -> None:
        """Stop: calls still waiting for an answer raise `LimiterClosed`."""
        self._closed = True
        for future in self._pending.values():
            if not future.done():
                future.set_exception(LimiterClosed("the rate-limit client was closed"))
        self._pending.clear()
        await self._connection.close()

    async def _ask(self, request: AcquireRequest) -> AcquireReply:
        body = request.model_dump_json().encode()
        attempt = 0
        while True:
            if self._closed:
                raise LimiterClosed("the rate-limit client was closed")
            answer = await self._request_once(body)
            if answer is not None:
                self._answered()
                return AcquireReply.model_validate_json(answer)
            attempt += 1
            self._unanswered(request.key, attempt)
            await asyncio.sleep(min(self.max_backoff_s, 0.05 * 2**attempt))

    async def _request_once(self, body: bytes) -> bytes | None:
        """One round trip; None when no answer came in time (or the broker is unreachable)."""
        correlation_id = format(next(self._ids), "x")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bytes | None] = loop.create_future()
        self._pending[correlation_id] = future
        timer = loop.call_later(self.timeout_s, _give_up, future)
        properties = spec.Basic.Properties(
            content_type="application/json", message_type=wire.ACQUIRE, correlation_id=correlation_id,
            message_id=correlation_id, reply_to=wire.DIRECT_REPLY_TO, expiration=self._expiration, delivery_mode=1,
        )
        try:
            transport = self._transport
            if transport is None or transport.is_closed:
                raise aio_pika.exceptions.ChannelInvalidStateError("the request channel is reconnecting")
            # Queued for the socket, not drained. No rpc runs on `_transport` once it is set (declare and
            # consume come first), so this never waits for the broker: the timer bounds the call.
            await transport.basic_publish(body, routing_key=wire.QUEUE, properties=properties, wait=False)
            return await future
        except LimiterClosed:
            raise
        except (aio_pika.exceptions.AMQPError, ConnectionError, RuntimeError) as exc:
            log.debug("rate limiter request failed", error=repr(exc))
            return None
        finally:
            timer.cancel()
            self._pending.pop(correlation_id, None)

    def _unanswered(self, key: str, attempt: int) -> None:
        if self.waiting_since is None:
            self.waiting_since = time.monotonic()
            if self.on_waiting is not None:
                self.on_waiting(True)
        waited = time.monotonic() - self.waiting_since
        if attempt == 1 or attempt % 10 == 0:
            log.warning("waiting for the rate limiter", key=key, client=self.client, waited_s=round(waited, 1))

    def _answered(self) -> None:
        if self.waiting_since is not None:
            log.info("the rate limiter answers again", client=self.client,
                     waited_s=round(time.monotonic() - self.waiting_since, 1))
            self.waiting_since = None
            if self.on_waiting is not None:
                self.on_waiting(False)

    async def feedback(self, feedback: UpstreamFeedback) -> None:
        """Publish persistent (with a broker confirm); after retries for ~10 s, log and drop it."""
        message = aio_pika.Message(
            feedback.model_dump_json().encode(), content_type="application/json", type=wire.FEEDBACK,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        )
        for attempt in range(8):
            try:
                assert self._feedback_channel is not None
                async with asyncio.timeout(self.timeout_s):
                    await self._feedback_channel.default_exchange.publish(message, routing_key=wire.QUEUE)
                return
            except (TimeoutError, aio_pika.exceptions.AMQPError, ConnectionError, RuntimeError) as exc:
                if self._closed:
                    raise LimiterClosed("the rate-limit client was closed") from exc
                log.warning("rate-limit feedback not published yet", key=feedback.key, error=repr(exc))
                await asyncio.sleep(min(2.0, 0.1 * 2**attempt))
        log.error("rate-limit feedback dropped after retries", key=feedback.key, status=feedback.status)


def _give_up(future: asyncio.Future[bytes | None]) -> None:
    if not future.done():
        future.set_result(None)
