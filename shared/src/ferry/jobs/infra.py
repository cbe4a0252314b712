"""Telling an infrastructure outage (wait it out) from a step's own failure (count it)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import aio_pika.exceptions
import aiormq.exceptions
import asyncpg
import structlog
from tenacity import AsyncRetrying, retry_if_exception, stop_after_delay, wait_exponential_jitter

log = structlog.get_logger(__name__)
T = TypeVar("T")

_PG_OUTAGE = (
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.TooManyConnectionsError,
    asyncpg.InternalClientError,  # "another operation is in progress" when Postgres restarts mid-statement
)
_AMQP_OUTAGE = (aio_pika.exceptions.AMQPConnectionError, aiormq.exceptions.ChannelInvalidStateError)


def is_outage(exc: BaseException) -> bool:
    """True for errors that mean Postgres or RabbitMQ is unreachable, not that the work is bad."""
    return isinstance(exc, (*_PG_OUTAGE, *_AMQP_OUTAGE, ConnectionError, asyncio.TimeoutError)) or (
        isinstance(exc, OSError) and not isinstance(exc, FileNotFoundError | PermissionError)
    )


async def outlast_outage(what: str, call: Callable[[], Awaitable[T]], *, max_wait_s: float = 600) -> T:
    """Run `call`, retrying with backoff through Postgres/RabbitMQ outages for up to `max_wait_s`."""
    async for attempt in AsyncRetrying(
        retry=retry_if_exception(is_outage),
        wait=wait_exponential_jitter(multiplier=0.2, max=10),
        stop=stop_after_delay(max_wait_s),
        reraise=True,
        before_sleep=lambda state: log.warning(
            "infrastructure unavailable, retrying", what=what, attempt=state.attempt_number,
            error=repr(state.outcome.exception()) if state.outcome else None,
        ),
    ):
        with attempt:
            return await call()
    raise AssertionError("unreachable")  # pragma: no cover
