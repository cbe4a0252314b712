"""The transactional outbox: messages a step committed are published after its commit.

A step stages its events and follow-up steps in its service's `outbox` table in the same
transaction as its effects. `flush` publishes them once the transaction has committed and deletes
them; if the process dies in between, `relay` publishes what it left behind. A message may so be
published twice, never lost: consumers are idempotent (events by `event_id`, steps by their
checkpoint row).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import asyncpg
import structlog

from ferry.jobs.delivery import send
from ferry.jobs.store import JobStore, OutboxMessage
from ferry.messaging import Publisher

log = structlog.get_logger(__name__)

PUBLISH_WINDOW = 256
"""Publishes awaiting the broker's confirmation at once in a flush."""


class Outbox:
    """Publishes one service's committed outbox messages."""

    def __init__(self, pool: asyncpg.Pool, store: JobStore, publisher: Publisher) -> None:
        self.pool = pool
        self.store = store
        self.publisher = publisher

    async def flush(self, staged: Sequence[OutboxMessage]) -> None:
        """Publish committed outbox messages, then delete the ones sent (the relay covers a crash between).

        Up to `PUBLISH_WINDOW` publishes are in flight at once, in order on the one channel, so a
        plan's hundred child steps wait for about one confirmation, not a hundred in a row. Steps
        go first (the work; events are ordered by their `seq` wherever they are read).
        """
        ordered = sorted(staged, key=lambda m: m.exchange != "")  # "" is the default exchange: work queues
        sent: list[OutboxMessage] = []
        failure: BaseException | None = None
        for start in range(0, len(ordered), PUBLISH_WINDOW):
            window = ordered[start:start + PUBLISH_WINDOW]
            results = await asyncio.gather(*(send(self.publisher, m) for m in window), return_exceptions=True)
            sent += [m for m, r in zip(window, results, strict=True) if not isinstance(r, BaseException)]
            failure = next((r for r in results if isinstance(r, BaseException)), None)
            if failure is not None:
                break  # the channel is likely gone: the relay publishes the rest
        if sent:
            async with self.pool.acquire() as conn:
                await self.store.delete_sent(conn, [m.message_id for m in sent])
        if failure is not None:
            raise failure

    async def relay(self, *, every_s: float = 5.0, older_than_s: float = 10.0) -> None:
        """Forever: publish outbox messages a dead process left behind."""
        while True:
            await asyncio.sleep(every_s)
            try:
                await self.relay_once(older_than_s)
            except Exception:
                log.warning("outbox relay round failed", exc_info=True)

    async def relay_once(self, older_than_s: float) -> int:
        """Publish the messages older than `older_than_s` (younger ones may still be on their way)."""
        async with self.pool.acquire() as conn, conn.transaction():
            left = await self.store.unsent(conn, older_than_s)
            for message in left:
                await send(self.publisher, message)
            await self.store.delete_sent(conn, [m.message_id for m in left])
        if left:
            log.info("outbox relay published left-over messages", count=len(left))
        return len(left)
