"""Batched acknowledgements: one `multiple` ack for the deliveries finished within a few ms.

On loopback each ack is a socket write about as dear as the reply itself, so acknowledging
requests one by one is a large share of the limiter's CPU. Acks linger `linger_s` (the replies do
not wait for them); a replica killed meanwhile sees those requests come again to its successor,
which reserves for them again: throttling a little more, never less. Deliveries are numbered in
order on their channel, and an ack with `multiple` covers every unacknowledged tag up to its own, so it must
never jump over a delivery still in progress or a feedback not yet saved ("open" below): those
finished beyond the oldest open one are acknowledged singly.

Tags belong to one channel: after a reconnection the old channel's deliveries come again, so the
bookkeeping starts afresh with the first delivery of the new channel.
"""

from __future__ import annotations

import asyncio
import bisect

import aiormq.abc
import structlog

log = structlog.get_logger(__name__)


class AckBatcher:
    """Tracks deliveries of one consumer; `run()` acknowledges the finished ones in batches."""

    def __init__(self, linger_s: float = 0.005) -> None:
        self.linger_s = linger_s
        self._channel: aiormq.abc.AbstractChannel | None = None
        self._open: set[int] = set()
        self._finished: list[int] = []
        self._wake = asyncio.Event()
        self._timer: asyncio.TimerHandle | None = None

    def delivered(self, channel: aiormq.abc.AbstractChannel, tag: int) -> None:
        """A delivery began (call before anything else for it, in delivery order)."""
        if channel is not self._channel:
            self._channel = channel
            self._open.clear()
            self._finished.clear()
        self._open.add(tag)

    def finished(self, channel: aiormq.abc.AbstractChannel, tag: int) -> None:
        """The delivery may be acknowledged (soon, with others)."""
        if channel is self._channel and tag in self._open:
            self._open.discard(tag)
            self._finished.append(tag)
            if self._timer is None:
                self._timer = asyncio.get_running_loop().call_later(self.linger_s, self._wake.set)

    def dropped(self, channel: aiormq.abc.AbstractChannel, tag: int) -> None:
        """The delivery was settled otherwise (nacked): never acknowledge it."""
        if channel is self._channel:
            self._open.discard(tag)

    async def flush(self) -> None:
        """Acknowledge every finished delivery now."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        channel, finished = self._channel, self._finished
        if channel is None or not finished:
            return
        self._finished = []
        finished.sort()
        split = bisect.bisect_left(finished, min(self._open)) if self._open else len(finished)
        if channel.is_closed:  # its deliveries come again on the next channel
            return
        if split:
            await channel.basic_ack(finished[split - 1], multiple=True, wait=False)
        for tag in finished[split:]:
            await channel.basic_ack(tag, wait=False)

    async def run(self) -> None:
        """Flush `linger_s` after a delivery finished with none waiting for an ack."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            self._timer = None
            try:
                await self.flush()
            except Exception as exc:  # the channel went away: those deliveries are redelivered
                log.debug("acknowledgements not sent", error=repr(exc))
