"""`ferry-status` as operators run it: `migrate`, then the HTTP service configured by FERRY_* variables."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import httpx

from tests.status.conftest import TOKEN
from tests.support.infra import Infra, free_port

SCRIPT = Path(sys.executable).parent / "ferry-status"


async def test_migrate_then_serve(infra: Infra) -> None:
    done = subprocess.run([str(SCRIPT), "migrate"], env=infra.env(), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    conn = await asyncpg.connect(infra.database_url)
    try:
        tables = {r["table_name"] for r in await conn.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'status'")}
    finally:
        await conn.close()
    assert {"events", "jobs", "schema_migrations"} <= tables
    again = subprocess.run([str(SCRIPT), "migrate"], env=infra.env(), capture_output=True, text=True, timeout=60)
    assert again.returncode == 0, again.stderr

    port = free_port()
    env = infra.env(FERRY_HTTP_PORT=str(port), FERRY_HTTP_HOST="127.0.0.1", FERRY_API_TOKEN=TOKEN)
    process = subprocess.Popen([str(SCRIPT)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
            deadline = time.monotonic() + 30
            ready = None
            while time.monotonic() < deadline:
                try:
                    ready = await client.get("/readyz")
                    if ready.status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.2)
            assert ready is not None, "the service never answered"
            assert ready.status_code == 200, ready.text
            started = await client.post("/jobs", headers={"Authorization": f"Bearer {TOKEN}"},
                                        json={"service": "telemetry-janitor", "command": "clear", "options": {}})
            assert started.status_code == 202
            job = (await client.get(f"/jobs/{started.json()['job_id']}")).json()
            assert job["status"] == "pending"
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    # uvicorn shuts down gracefully, then re-raises the signal it caught (so the exit status says SIGTERM).
    assert process.returncode in (0, -signal.SIGTERM), output
    assert "Application shutdown complete." in output
    assert TOKEN not in output, "the API token must never be logged"
    assert '"service": "status"' in output  # JSON logs carry the service's name
    assert os.environ.get("FERRY_API_TOKEN") != TOKEN
