"""The transactional outbox: messages a step committed are published after its commit.

A step stages its events and follow-up steps in its service's `outbox` table in the same
transaction as its effects. `flush` publishes them once the transaction has committed and deletes
them; if the process dies in between, `relay` publishes what it left behind. A message may so be
published twice, never lost: consumers are idempotent (events by `event_id`, steps by their
checkpoint row).
"""

from __future__ import annotations

import asyncio

import asyncpg
import structlog

from ferry.jobs.publisher import Publisher
from ferry.jobs.store import JobStore, OutboxMessage

log = structlog.get_logger(__name__)


class Outbox:
    """Publishes one service's committed outbox messages."""

    def __init__(self, pool: asyncpg.Pool, store: JobStore, publisher: Publisher) -> None:
        self.pool = pool
        self.store = store
        self.publisher = publisher

    async def flush(self, staged: list[OutboxMessage]) -> None:
        """Publish committed outbox messages, then delete them (the relay covers a crash between)."""
        if not staged:
            return
        for message in staged:
            await self.publisher.publish(message)
        async with self.pool.acquire() as conn:
            await self.store.delete_sent(conn, [m.message_id for m in staged])

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
                await self.publisher.publish(message)
            await self.store.delete_sent(conn, [m.message_id for m in left])
        if left:
            log.info("outbox relay published left-over messages", count=len(left))
        return len(left)
