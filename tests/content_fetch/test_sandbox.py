"""The content sandbox as `ferry-sandbox` serves it (mounted under /content beside the GitHub fake)."""

from __future__ import annotations

import httpx

from ferry_sandbox.config import default_config
from ferry_sandbox.main import create_sandbox_app


async def test_admin_calls_under_the_mount_are_neither_delayed_nor_logged() -> None:
    # A benchmark sums the sources' latencies from this log: only the sources' requests may be in it.
    transport = httpx.ASGITransport(app=create_sandbox_app(default_config()))
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as client:
        (await client.post("/content/_sandbox/config", json={"latency_ms": 1})).raise_for_status()
        feed = await client.get("/content/feeds/world.xml")
        logged = (await client.get("/content/_sandbox/requests")).json()
    assert feed.status_code == 200
    assert feed.headers["etag"]
    assert [(entry["path"], entry["status"]) for entry in logged] == [("/content/feeds/world.xml", 200)]
