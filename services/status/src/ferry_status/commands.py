"""Every published command becomes a `pending` job in the status service, whoever published it.

`status.commands` holds a copy of each message on `ferry.commands` (the CLI, the API, CronJobs,
schedules). A job whose service is down, or whose command waits behind others, is then visible
as pending at once instead of appearing only when its service accepts it. Recording is idempotent
with the job's own events, in either order (see `store.record_command`).

Commands are few, so each is written and acknowledged on its own. While Postgres is away the
write is retried and the delivery kept (unacknowledged, so nothing is lost).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import structlog
from aio_pika.abc import AbstractIncomingMessage, AbstractQueue, AbstractRobustChannel, AbstractRobustConnection
from pydantic import ValidationError
from tenacity import AsyncRetrying, retry_if_exception, wait_exponential_jitter

from ferry import topology
from ferry.contracts import CANCEL, Command
from ferry.jobs.infra import is_outage
from ferry_status import store
from ferry_status.consumers import consumer_problem

log = structlog.get_logger(__name__)
PREFETCH = 50


@dataclass(frozen=True)
class SeenCommand:
    """What the status service keeps of a command it saw on `ferry.commands`."""

    job_id: UUID
    service: str
    command: str
    options: dict[str, Any] | None
    requested_by: str | None
    requested_at: datetime | None


def read_command(routing_key: str, body: bytes) -> SeenCommand | str:
    """The command a delivery carries, or why it is not one worth recording (cancels, garbage).

    The envelope is read with the shared contract; options stay as they were sent (validating them
    is the target service's job, which rejects bad ones with an event of its own)."""
    service, _, command = routing_key.partition(".")
    if not service or not command or "." in command:
        return f"routing key {routing_key!r} is not <service>.<command>"
    if command == CANCEL:
        return "a cancel, not a job"
    try:
        envelope = Command[Any].model_validate_json(body)
    except ValidationError:
        # A newer envelope, or one with extra fields: keep what identifies the job, if anything.
        try:
            raw = json.loads(body)
            return SeenCommand(UUID(str(raw["job_id"])), service, command, None, None, None)
        except (ValueError, KeyError, TypeError):
            return "not a command envelope with a job_id"
    options = envelope.options if isinstance(envelope.options, dict) else None
    return SeenCommand(envelope.job_id, service, command, options, envelope.requested_by, envelope.requested_at)


class CommandRecorder:
    """Consumes `status.commands` into pending job rows until stopped."""

    def __init__(self, connection: AbstractRobustConnection, pool: asyncpg.Pool) -> None:
        self._connection = connection
        self._pool = pool
        self._channel: AbstractRobustChannel | None = None
        self._queue: AbstractQueue | None = None
        self._tag: str | None = None
        self._stopping = False

    async def start(self) -> None:
        channel = await self._connection.channel(publisher_confirms=False)
        assert isinstance(channel, AbstractRobustChannel)
        await channel.set_qos(prefetch_count=PREFETCH)
        await topology.declare_base(channel)
        self._channel = channel
        self._queue = await topology.declare(channel, topology.STATUS_COMMANDS, topology.COMMANDS)
        self._tag = await self._queue.consume(self._on_message)
        log.info("recording commands", queue=topology.STATUS_COMMANDS.name)

    async def stop(self) -> None:
        self._stopping = True
        if self._queue is not None and self._tag is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._queue.cancel(self._tag), 5)
        if self._channel is not None:
            with contextlib.suppress(Exception):
                await self._channel.close()

    async def consuming(self) -> str | None:
        """None when the consumer is registered on an open channel, else what is wrong."""
        return await consumer_problem(self._channel, self._tag)

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        seen = read_command(message.routing_key or "", message.body)
        if isinstance(seen, SeenCommand):
            try:
                await self._record(seen)
            except Exception as exc:
                # Stopping, or Postgres refused the row: the delivery goes back (or is dropped when
                # refused) and the job still appears through its own events.
                log.warning("command not recorded", job_id=str(seen.job_id), error=repr(exc))
                with contextlib.suppress(Exception):
                    await message.nack(requeue=self._stopping)
                return
        with contextlib.suppress(Exception):  # a closed channel means the broker requeued it anyway
            await message.ack()

    async def _record(self, seen: SeenCommand) -> None:
        async for attempt in AsyncRetrying(
            retry=retry_if_exception(lambda e: isinstance(e, Exception) and is_outage(e) and not self._stopping),
            wait=wait_exponential_jitter(multiplier=0.2, max=5, jitter=0.3), reraise=True,
        ):
            with attempt:
                async with self._pool.acquire(timeout=10) as conn:
                    new = await store.record_command(
                        conn, seen.job_id, seen.service, seen.command, seen.options, seen.requested_by,
                        seen.requested_at,
                    )
        if new:
            log.info("command recorded as pending", job_id=str(seen.job_id), service=seen.service,
                     command=seen.command)
