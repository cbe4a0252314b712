"""The `Limiter` interface every caller uses, and the waiting logic its implementations share."""

from __future__ import annotations

import asyncio
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from typing import Protocol, runtime_checkable

from ferry.contracts.ratelimit import AcquireReply, AcquireRequest, UpstreamFeedback
from ferry.ratelimit.errors import WaitTooLong


@runtime_checkable
class Limiter(Protocol):
    """What a worker calls around every upstream request."""

    async def acquire(
        self, key: str, tokens: int = 1, *, rate: float | None = None, burst: int | None = None,
        max_wait_s: float | None = None,
    ) -> float:
        """Wait until the caller may make `tokens` calls on `key`; returns seconds waited.

        `rate`/`burst` configure a key the settings do not know (e.g. `job:<id>`). Fails closed:
        if the limiter does not answer it retries, logging "waiting for the rate limiter", and never
        lets the call through unthrottled. `max_wait_s` raises `WaitTooLong` instead of a longer wait.
        """
        ...

    async def feedback(self, feedback: UpstreamFeedback) -> None:
        """Report an upstream answer's rate-limit facts (fire-and-forget, persistent publish)."""
        ...


WAKE_MARGIN_S = 0.005
"""Added to every reserved wait. A call granted at once reaches its caller a round trip after the
grant, while a reserved one wakes on its due time: without a margin the two can land closer than
the bucket allowed (seen as one grant over in a 1 s window by bench/limiter_accuracy)."""


class ReservingLimiter(ABC):
    """Acquire by reservation: ask, sleep the answer, check no pause began meanwhile, go.

    A pause reported while a caller sleeps forgives its reservation (see `Bucket.pause`), so after
    any wait the caller asks again with `tokens=0`; if the key is paused it sleeps until the pause
    ends and queues again.
    """

    def __init__(
        self, client: str, *, clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.client = client
        self._clock = clock
        self._sleep = sleep

    @abstractmethod
    async def _ask(self, request: AcquireRequest) -> AcquireReply:
        """One answer from the buckets (retrying until there is one)."""

    async def acquire(
        self, key: str, tokens: int = 1, *, rate: float | None = None, burst: int | None = None,
        max_wait_s: float | None = None,
    ) -> float:
        started = self._clock()
        request = AcquireRequest(key=key, tokens=tokens, rate=rate, burst=burst, client=self.client)
        check: AcquireRequest | None = None  # built only after a wait (most acquires never wait)
        while True:
            reply = await self._ask(request)
            self._within(reply, started, max_wait_s)
            if reply.wait_s <= 0:
                return self._clock() - started
            await self._sleep(reply.wait_s + WAKE_MARGIN_S)
            check = check or request.model_copy(update={"tokens": 0})
            paused = await self._ask(check)
            if paused.wait_s <= 0:
                return self._clock() - started
            self._within(paused, started, max_wait_s)
            await self._sleep(paused.wait_s)

    def _within(self, reply: AcquireReply, started: float, max_wait_s: float | None) -> None:
        if max_wait_s is None:
            return
        total = self._clock() - started + reply.wait_s
        if total > max_wait_s:
            raise WaitTooLong(reply.key, total, max_wait_s, reply.paused_until)
