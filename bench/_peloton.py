"""What the Peloton benchmarks share: the sandbox, the rate limiter and peloton-sync as processes,
and one `sync-class-library` job run through them."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
from cryptography.fernet import Fernet

from bench._jobs import job_events
from bench._servers import free_port, running
from ferry.contracts import Command, JobEvent
from ferry.contracts.peloton_sync import SyncClassLibraryOptions
from ferry_sandbox.peloton import default_peloton_config

DEMO = default_peloton_config().accounts[0]


@dataclass
class Run:
    event: JobEvent
    seconds: float
    log: list[dict[str, Any]]

    def count(self, suffix: str, discipline: str | None = None) -> int:
        return sum(1 for e in self.log if e["path"].endswith(suffix) and e["status"] == 200
                   and (discipline is None or e["query"].get("browse_category") == discipline))


@contextlib.contextmanager
def peloton_stack(amqp_url: str, database_url: str, rate: float, burst: int) -> Iterator[str]:
    """Sandbox, limiter (`peloton:*` at `rate`/s) and peloton-sync running; yields the sandbox's URL."""
    port = free_port()
    with contextlib.ExitStack() as stack:
        common = {"FERRY_AMQP_URL": amqp_url, "FERRY_DATABASE_URL": database_url}
        stack.enter_context(running("ferry-sandbox", {}, "--port", str(port), port=port,
                                    ready_path="/peloton/_sandbox/stats"))
        api = f"http://127.0.0.1:{port}/peloton"
        stack.enter_context(running("ferry-rate-limiter", {
            **common, "FERRY_RATE_LIMITS": json.dumps({"peloton:*": {"rate": rate, "burst": burst}})}))
        seed = {"username": DEMO.username, "email": DEMO.email, "access_token": DEMO.access_token,
                "refresh_token": DEMO.refresh_token}
        stack.enter_context(running("ferry-peloton-sync", {
            **common, "FERRY_PELOTON_API_URL": api, "FERRY_PELOTON_AUTH_URL": f"{api}/oauth/token",
            "FERRY_PELOTON_CLIENT_ID": "ferry-bench", "FERRY_PELOTON_TOKEN_KEY": Fernet.generate_key().decode(),
            "FERRY_PELOTON_SEED_CONNECTION": json.dumps(seed), "FERRY_STEP_CONCURRENCY": "4"}))
        yield api


async def sync(amqp_url: str, api: str, **options: Any) -> Run:
    envelope = Command[SyncClassLibraryOptions](options=SyncClassLibraryOptions(**options), requested_by="bench")
    async with httpx.AsyncClient(timeout=10) as http:
        (await http.post(f"{api}/_sandbox/reset")).raise_for_status()
        async with job_events(amqp_url, "peloton-sync") as jobs:
            started = time.monotonic()
            await jobs.publish("sync-class-library", envelope)
            event = await jobs.final(envelope.job_id)
            seconds = time.monotonic() - started
        log = (await http.get(f"{api}/_sandbox/requests")).json()
    return Run(event, seconds, log)
