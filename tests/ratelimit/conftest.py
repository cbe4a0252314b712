"""Running the rate limiter for a test: in this process (fast) or as its console script (to kill it)."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Any

from ferry.db import create_pool
from ferry.ratelimit import AmqpLimiter, TokenBuckets
from ferry_rate_limiter.app import prepare_database
from ferry_rate_limiter.server import LimiterServer
from ferry_rate_limiter.settings import RateLimiterSettings
from tests.support.infra import Infra


def limits_env(rules: dict[str, dict[str, float]], **pause: float) -> dict[str, str]:
    """Environment giving the service these limits (and pause policy)."""
    env = {"FERRY_RATE_LIMITS": json.dumps(rules)}
    if pause:
        env["FERRY_RATE_LIMIT_PAUSE"] = json.dumps(pause)
    return env


@asynccontextmanager
async def limiter_in_process(
    infra: Infra, rules: dict[str, dict[str, float]], *, upstream_max_wait_s: float = 3600.0, **pause: float
) -> AsyncIterator[LimiterServer]:
    """The limiter's consumer in this event loop, with its own pool; stopped (handed over) at exit."""
    settings = RateLimiterSettings(
        amqp_url=infra.amqp_url, database_url=infra.database_url, upstream_max_wait_s=upstream_max_wait_s,
        **_parsed(limits_env(rules, **pause)),
    )
    await prepare_database(settings)
    pool = await create_pool(infra.database_url, max_size=2)
    server = LimiterServer(TokenBuckets.from_settings(settings), pool, settings)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
        await pool.close()


def _parsed(env: dict[str, str]) -> dict[str, Any]:
    names = {"FERRY_RATE_LIMITS": "rate_limits", "FERRY_RATE_LIMIT_PAUSE": "rate_limit_pause"}
    return {names[k]: json.loads(v) for k, v in env.items()}


@asynccontextmanager
async def clients(infra: Infra, *names: str, timeout_s: float = 2.0, **kwargs: Any) -> AsyncIterator[
    list[AmqpLimiter]
]:
    """Connected `AmqpLimiter`s, closed at exit."""
    made: list[AmqpLimiter] = []
    try:
        for name in names:
            made.append(await AmqpLimiter.connect(infra.amqp_url, client=name, timeout_s=timeout_s, **kwargs))
        yield made
    finally:
        for limiter in made:
            await limiter.close()


def over_limit(grants: Iterable[float], rate: float, burst: int, longest_s: float = 1.0, jitter_s: float = 0.0) -> int:
    """The most grants beyond `burst + rate * (w + jitter_s)` in any window of length w <= `longest_s` (0 = none).

    `jitter_s` allows for times observed in the clients: an answer sent at once may be delivered a
    few ms later than a reserved call wakes.
    """
    times = sorted(grants)
    worst = 0
    for i, start in enumerate(times):
        j = i
        while j < len(times) and times[j] - start <= longest_s:
            worst = max(worst, (j - i + 1) - int(burst + rate * (times[j] - start + jitter_s) + 1e-3))
            j += 1
    return worst


def timer() -> Callable[[], float]:
    started = time.monotonic()
    return lambda: time.monotonic() - started
