"""Helpers for the CLI's tests: run `ferry` in-process against the test's own vhost, read
what it published back from the real broker, and fake the status API where a test needs a
job in a given state."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import aio_pika
import httpx
import pytest
from typer.testing import CliRunner, Result

from ferry import topology
from ferry.cli.context import Deps
from ferry.cli.main import create_app
from tests.support.infra import Infra

SERVICE = "telemetry-janitor"
PUBLISHED = re.compile(r"Published job ([0-9a-f-]{36}) \(([a-z-]+\.[a-z-]+)\)")


@dataclass(frozen=True)
class Got:
    """A message read back from a command queue."""

    routing_key: str
    body: bytes
    persistent: bool
    message_id: str | None
    content_type: str | None


async def _drain(amqp_url: str, service: str) -> list[Got]:
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        await topology.declare_services(channel, service)
        queue = await topology.declare(channel, topology.command_queue(service), topology.COMMANDS)
        got: list[Got] = []
        while (message := await queue.get(no_ack=True, fail=False)) is not None:
            got.append(
                Got(
                    routing_key=message.routing_key or "",
                    body=message.body,
                    persistent=message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT,
                    message_id=message.message_id,
                    content_type=message.content_type,
                )
            )
        return got


async def _declare(amqp_url: str, service: str) -> None:
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        await topology.declare_services(await connection.channel(), service)


def published(infra: Infra, service: str = SERVICE) -> list[Got]:
    """Every command waiting in `<service>.commands` of the test's vhost (consumed)."""
    return asyncio.run(_drain(infra.amqp_url, service))


def declare_queues(infra: Infra, service: str = SERVICE) -> None:
    """Declare the service's queues first, so anything the CLI published would be kept."""
    asyncio.run(_declare(infra.amqp_url, service))


def job_ids(output: str) -> list[tuple[str, str]]:
    """(job id, routing key) of every `Published job ...` line."""
    return PUBLISHED.findall(output)


@dataclass
class FakeStatus:
    """The status API as an httpx transport: each job id answers a script of states.

    `script(job_id, call)` returns the job for the `call`-th poll (None for 404); events are
    the `events` list filtered by `after_seq`.
    """

    script: Callable[[str, int], dict[str, Any] | None]
    events: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    served: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    listing: list[dict[str, Any]] = field(default_factory=list)
    """What `GET /jobs` answers (newest first), filtered by `id_prefix` as the real service does."""

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(f"{request.method} {request.url.path}?{request.url.query.decode()}")
        parts = request.url.path.strip("/").split("/")
        if parts == ["jobs"]:
            prefix = request.url.params.get("id_prefix", "").lower()
            items = [j for j in self.listing if str(j["job_id"]).startswith(prefix)]
            limit = int(request.url.params.get("limit", "50"))
            return httpx.Response(200, json={"items": items[:limit], "total": len(items), "limit": limit, "offset": 0})
        if parts[0] != "jobs" or len(parts) < 2:
            return httpx.Response(404, json={"detail": "not found"})
        job_id = parts[1]
        if len(parts) == 3 and parts[2] == "events":
            after = int(request.url.params.get("after_seq", "-1"))
            # Like the real service: only events stored by the time of the job's last answer.
            upto = (self.served.get(job_id) or {}).get("last_seq")
            upto = 1 << 30 if upto is None else upto
            items = [e for e in self.events.get(job_id, []) if after < e["seq"] <= upto]
            return httpx.Response(200, json={"items": items})
        call = self.calls.get(job_id, 0)
        self.calls[job_id] = call + 1
        job = self.script(job_id, call)
        self.served[job_id] = job
        if job is None:
            return httpx.Response(404, json={"detail": f"job {job_id} not found"})
        return httpx.Response(200, json={"job_id": job_id, **job})

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)


def job(status: str, **extra: Any) -> dict[str, Any]:
    """A job as the status API shows it."""
    return {
        "service": SERVICE,
        "command": "clear",
        "status": status,
        "progress": None,
        "total": None,
        "processed": 0,
        "succeeded": 0,
        "failed": 0,
        "skipped": 0,
        "message": "",
        "error": None,
        "result": None,
        "duration_s": 1.5,
        "last_seq": None,
        **extra,
    }


def event(job_id: str, seq: int, type_: str, message: str, **counters: Any) -> dict[str, Any]:
    return {
        "job_id": job_id,
        "service": SERVICE,
        "command": "clear",
        "type": type_,
        "seq": seq,
        "message": message,
        "detail": {},
        **counters,
    }


@dataclass
class Ferry:
    """Runs `ferry ...` in-process with the test's environment."""

    infra: Infra
    runner: CliRunner = field(default_factory=CliRunner)

    def __call__(
        self,
        *args: str,
        input: str | None = None,
        status: FakeStatus | None = None,
        terminal: bool = False,
        env: dict[str, str] | None = None,
    ) -> Result:
        deps = Deps(
            status_transport=status.transport if status else None,
            stdin_is_terminal=lambda: terminal,
            poll_interval_s=0.01,
            unknown_job_grace_s=0.3,  # `ferry watch` of an unknown id gives up after 30 polls or so
        )
        return self.runner.invoke(
            create_app(deps), list(args), input=input, env=self.infra.env(**(env or {})), catch_exceptions=False
        )


@pytest.fixture
def ferry(infra: Infra) -> Ferry:
    return Ferry(infra)


def only_json(stdout: str) -> Any:
    """stdout must be exactly one JSON document."""
    return json.loads(stdout)


def as_uuid(value: str) -> UUID:
    return UUID(value)
