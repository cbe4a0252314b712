"""The process: the limiter's consumer plus /healthz /readyz /metrics on FERRY_HTTP_PORT."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ferry.db import create_pool, migrate_database
from ferry.ratelimit.core import TokenBuckets
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
        buckets = TokenBuckets(settings.limit_table(), settings.rate_limit_pause)
        server = LimiterServer(buckets, pool, settings)
        await server.start()
        state.update(pool=pool, server=server)
        try:
            yield
        finally:
            await server.stop()
            await pool.close()

    app = FastAPI(title=f"ferry {SERVICE}", lifespan=lifespan)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz(response: Response) -> dict[str, Any]:
        """Ready when consuming (as the active replica or a standby) and Postgres answers."""
        server: LimiterServer | None = state.get("server")
        checks = {"consumer": server is not None and server.consuming(), "database": False}
        pool: asyncpg.Pool | None = state.get("pool")
        if pool is not None:
            with contextlib.suppress(Exception):
                async with pool.acquire(timeout=2) as conn:
                    checks["database"] = bool(await conn.fetchval("SELECT true", timeout=2))
        ready = all(checks.values())
        response.status_code = 200 if ready else 503
        return {"ready": ready, **checks, "active": bool(server and server.owner)}

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app
