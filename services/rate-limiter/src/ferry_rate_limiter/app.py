"""The process: the limiter's consumer plus /healthz /readyz /metrics on FERRY_HTTP_PORT."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from ferry.db import create_pool, migrate_database
from ferry.ratelimit.core import TokenBuckets
from ferry.serve import add_probes, database_ready
from ferry_rate_limiter import SERVICE, store
from ferry_rate_limiter.server import LimiterServer
from ferry_rate_limiter.settings import RateLimiterSettings


async def prepare_database(settings: RateLimiterSettings) -> list[str]:
    """Create the database if needed and apply the migrations; the versions applied now."""
    return await migrate_database(settings.database_url.get_secret_value(), store.SCHEMA, store.migrations())


def create_app(settings: RateLimiterSettings) -> FastAPI:
    state: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await prepare_database(settings)
        pool = await create_pool(settings.database_url.get_secret_value(), min_size=1, max_size=3)
        buckets = TokenBuckets.from_settings(settings)
        server = LimiterServer(buckets, pool, settings)
        await server.start()
        state.update(pool=pool, server=server)
        try:
            yield
        finally:
            await server.stop()
            await pool.close()

    app = FastAPI(title=f"ferry {SERVICE}", lifespan=lifespan)

    async def checks() -> dict[str, bool]:
        """Ready when consuming (as the active replica or a standby) and Postgres answers."""
        server: LimiterServer | None = state.get("server")
        consuming = server is not None and server.consuming()
        return {"consumer": consuming, "database": await database_ready(state.get("pool"))}

    def active() -> dict[str, Any]:
        server: LimiterServer | None = state.get("server")
        return {"active": bool(server and server.owner)}

    add_probes(app, checks, active)
    return app
