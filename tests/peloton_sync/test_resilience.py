"""A worker SIGKILLed mid-sync, and tokens kept out of every place a person can read."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import asyncpg
import pytest

from ferry.db import create_pool
from ferry_peloton_sync.crypto import TokenCipher
from ferry_peloton_sync.rules import window
from tests.peloton_sync.harness import DEMO_ACCESS, DEMO_REFRESH, KEY, add_connection, migrate, serve_sandbox
from tests.peloton_sync.stack import FINAL, rate_limiter, start
from tests.runtime.harness import EventTap
from tests.support.infra import Infra, free_port
from tests.support.processes import ServiceProcess


async def _count(infra: Infra, sql: str) -> int:
    conn = await asyncpg.connect(infra.database_url)
    try:
        return int(await conn.fetchval(sql))
    finally:
        await conn.close()


async def _dump(infra: Infra) -> str:
    conn = await asyncpg.connect(infra.database_url)
    try:
        rows = await conn.fetch("SELECT * FROM peloton_sync.peloton_connection")
        jobs = await conn.fetch("SELECT * FROM peloton_sync.jobs")
        return json.dumps([dict(r) for r in [*rows, *jobs]], default=str)
    finally:
        await conn.close()


@pytest.mark.slow
async def test_a_worker_killed_mid_sync_finishes_with_exact_counts_and_no_token_leaks(
    infra: Infra, tmp_path: Path
) -> None:
    await migrate(infra)
    pool = await create_pool(infra.database_url)
    try:  # stored as expired: the first step refreshes it, so new tokens exist to leak
        await add_connection(pool, TokenCipher([KEY]), expires_in_s=-5)
    finally:
        await pool.close()
    win = window(2025, 12)
    async with serve_sandbox() as sandbox, rate_limiter(infra), EventTap.open(infra) as tap:
        env = infra.env(FERRY_PELOTON_API_URL=sandbox.url, FERRY_PELOTON_AUTH_URL=f"{sandbox.url}/oauth/token",
                        FERRY_PELOTON_CLIENT_ID="ferry-test", FERRY_PELOTON_TOKEN_KEY=KEY,
                        FERRY_STEP_CONCURRENCY="2", FERRY_LOG_LEVEL="DEBUG")
        service = ServiceProcess("ferry-peloton-sync", env, free_port(), tmp_path / "peloton.log")
        service.start()
        try:
            await asyncio.to_thread(service.wait_ready)
            job = await start(tap, year=2025, month=12, delay=0.02)
            async with asyncio.timeout(60):
                while len(sandbox.log("details")) < 60:
                    await asyncio.sleep(0.02)
            service.kill()  # SIGKILL: the pages in flight die with their transactions
            stored_at_kill = await _count(infra, "SELECT count(*) FROM peloton_sync.ride_detail")
            service.start()
            await asyncio.to_thread(service.wait_ready)
            final = await tap.until(job, FINAL, timeout=120)
        finally:
            await asyncio.to_thread(service.stop)
        logs = service.logs()
        issued = set(sandbox.state.access) | set(sandbox.state.refresh)
    expected = sandbox.synced("cycling", win) | sandbox.synced("running", win)
    asked = sandbox.needing_details("cycling", win) | sandbox.needing_details("running", win)
    assert stored_at_kill < len(expected), "the kill came mid-sync"
    assert final.type == "completed", final.message
    result = final.detail["result"]
    assert result["created"] == len(expected)
    assert await _count(infra, "SELECT count(*) FROM peloton_sync.ride_detail") == len(expected)
    details = [e["path"].split("/")[3] for e in sandbox.log("details")]
    assert set(details) == asked
    assert len(details) - len(asked) <= 2 * 50, "only the pages in flight were asked again"

    assert sandbox.state.refreshes >= 1
    events = json.dumps([e.model_dump(mode="json") for e in tap.events])
    table = await _dump(infra)
    for token in {DEMO_ACCESS, DEMO_REFRESH, *issued}:
        assert token not in logs
        assert token not in events
        assert token not in table
    assert "peloton connection refreshed" in logs
