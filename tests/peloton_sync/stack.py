"""peloton-sync's service in this process on the real broker and database, with the real rate-limiter
service and the Peloton sandbox over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from uuid import UUID

from ferry.contracts.events import JobEvent
from ferry.contracts.peloton_sync import SyncClassLibraryOptions
from ferry.ratelimit import LimitRule
from ferry.service import create_app as create_service_app
from ferry_peloton_sync.main import spec
from ferry_rate_limiter.app import create_app as create_limiter_app
from ferry_rate_limiter.settings import RateLimiterSettings
from tests.peloton_sync.harness import Sandbox, settings
from tests.runtime.harness import EventTap
from tests.support.infra import Infra
from tests.support.messages import send_command

FINAL = {"completed", "failed", "cancelled", "rejected"}


@asynccontextmanager
async def rate_limiter(infra: Infra, rate: float = 1000.0, burst: int = 100) -> AsyncIterator[None]:
    app = create_limiter_app(RateLimiterSettings(
        amqp_url=infra.amqp_url, database_url=infra.database_url,
        rate_limits={"peloton:*": LimitRule(rate=rate, burst=burst)},
    ))
    async with app.router.lifespan_context(app):
        yield


@asynccontextmanager
async def service(infra: Infra, sandbox: Sandbox, **extra: Any) -> AsyncIterator[Any]:
    app = create_service_app(spec(), settings(infra, sandbox, **extra))
    async with app.router.lifespan_context(app):
        yield app


@asynccontextmanager
async def stack(infra: Infra, sandbox: Sandbox, *, rate: float = 1000.0, **extra: Any) -> AsyncIterator[EventTap]:
    async with rate_limiter(infra, rate), service(infra, sandbox, **extra), EventTap.open(infra) as tap:
        yield tap


async def start(tap: EventTap, **options: Any) -> UUID:
    options.setdefault("delay", 0)
    return await send_command(tap.channel, "peloton-sync.sync-class-library", SyncClassLibraryOptions(**options))


async def run_job(tap: EventTap, timeout: float = 60, **options: Any) -> JobEvent:
    job_id = await start(tap, **options)
    return await tap.until(job_id, FINAL, timeout=timeout)
