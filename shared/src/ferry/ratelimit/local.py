"""`LocalLimiter`: the same buckets in this process (single-process tools, tests of callers)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from ferry.contracts.ratelimit import AcquireReply, AcquireRequest, UpstreamFeedback
from ferry.ratelimit.base import ReservingLimiter
from ferry.ratelimit.config import LimitTable, PausePolicy, RateLimitSettings
from ferry.ratelimit.core import DEFAULT_MAX_WAIT_S, TokenBuckets


class LocalLimiter(ReservingLimiter):
    """Token buckets held in memory: throttles this process only, not a fleet.

    `clock` (epoch seconds) and `sleep` may be replaced together to drive time by hand.
    """

    def __init__(
        self, table: LimitTable | None = None, *, policy: PausePolicy | None = None, client: str = "local",
        clock: Callable[[], float] = time.time, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        max_wait_s: float = DEFAULT_MAX_WAIT_S,
    ) -> None:
        super().__init__(client, clock=clock, sleep=sleep)
        if table is None:  # from FERRY_RATE_LIMITS and friends
            settings = RateLimitSettings()
            table, policy = settings.limit_table(), policy or settings.rate_limit_pause
            max_wait_s = settings.upstream_max_wait_s
        self.buckets = TokenBuckets(table, policy, clock, max_wait_s=max_wait_s)

    @classmethod
    def from_settings(cls, settings: RateLimitSettings, *, client: str = "local") -> LocalLimiter:
        return cls(settings.limit_table(), policy=settings.rate_limit_pause, client=client,
                   max_wait_s=settings.upstream_max_wait_s)

    async def _ask(self, request: AcquireRequest) -> AcquireReply:
        grant = self.buckets.acquire(request.key, request.tokens, rate=request.rate, burst=request.burst)
        return AcquireReply(key=grant.key, wait_s=grant.wait_s, paused_until=grant.paused_until, due_at=grant.due_at)

    async def feedback(self, feedback: UpstreamFeedback) -> None:
        self.buckets.feedback(feedback)
