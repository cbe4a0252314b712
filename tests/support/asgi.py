"""Serve an ASGI app (a sandbox of an outside API) on a free loopback port for one test."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn

from tests.support.infra import free_port


@asynccontextmanager
async def serve_asgi(app: Any) -> AsyncIterator[str]:
    """Run `app` under uvicorn until the block ends; yields its base URL. The app's lifespan is not
    run: sandboxes keep their state on `app.state` from the start."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", log_config=None, lifespan="off"
    ))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()  # it failed to start: raise why
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
