"""The console-script shape every ferry service shares.

    ferry-<service>            serve: the service's ASGI app under uvicorn on FERRY_HTTP_PORT
    ferry-<service> migrate    apply the service's migrations and exit

`add_probes` gives a service's app the endpoints every ferry process serves.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any

import asyncpg
import uvicorn
from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ferry.logging import configure_logging
from ferry.settings import FerrySettings


def serve(
    service: str,
    settings: FerrySettings,
    *,
    app: Callable[[], Any],
    migrate: Callable[[], Coroutine[Any, Any, list[str]]],
    argv: Sequence[str] | None = None,
) -> None:
    """Run `ferry-<service>` with `argv` (default: the command line); exit 2 on unknown arguments."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args != ["migrate"]:
        print(f"usage: ferry-{service} [migrate]", file=sys.stderr)
        raise SystemExit(2)
    log = configure_logging(service, settings)
    if args == ["migrate"]:
        applied = asyncio.run(migrate())
        log.info("migrations up to date", applied=applied)
        return
    uvicorn.run(
        app(), host=settings.http_host, port=settings.http_port, log_config=None, access_log=False, lifespan="on"
    )


async def database_ready(pool: asyncpg.Pool | None) -> bool:
    """Whether Postgres answers through `pool` within 2 s (False before the pool exists)."""
    if pool is None:
        return False
    with contextlib.suppress(Exception):
        async with pool.acquire(timeout=2) as conn:
            return bool(await conn.fetchval("SELECT true", timeout=2))
    return False


def add_probes(
    app: FastAPI,
    checks: Callable[[], Awaitable[dict[str, bool]]],
    extra: Callable[[], dict[str, Any]] = dict,
) -> None:
    """`/healthz` (alive), `/readyz` (200 only when every check holds; 503 naming them) and `/metrics`."""

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz(response: Response) -> dict[str, Any]:
        results = await checks()
        ready = all(results.values())
        response.status_code = 200 if ready else 503
        return {"ready": ready, **results, **extra()}

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
