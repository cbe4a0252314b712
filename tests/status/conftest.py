"""Running the real status service in-process (its FastAPI lifespan, real broker and database)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar
from uuid import UUID, uuid4

import aio_pika
import httpx
import pytest
from fastapi import FastAPI

from ferry import topology
from ferry.contracts import EventType, JobEvent
from ferry_status.api import create_app
from ferry_status.settings import StatusSettings
from tests.support.infra import Infra

TOKEN = "test-token-0123456789"
T = TypeVar("T")


@dataclass
class Status:
    app: FastAPI
    client: httpx.AsyncClient
    auth: dict[str, str]


@asynccontextmanager
async def running_status(infra: Infra, token: str | None = TOKEN, **overrides: Any) -> AsyncIterator[Status]:
    """The status service's app with its lifespan running, and an HTTP client talking to it."""
    settings = StatusSettings(
        amqp_url=infra.amqp_url, database_url=infra.database_url, api_token=token,
        status_ingest_wait_ms=5, **overrides,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://status") as client:
            yield Status(app, client, {"Authorization": f"Bearer {token}"} if token else {})


@pytest.fixture
async def status(infra: Infra) -> AsyncIterator[Status]:
    async with running_status(infra) as running:
        yield running


class Events:
    """Publishes job events the way services do: persistent, confirmed, to ferry.events."""

    def __init__(self, connection: aio_pika.abc.AbstractConnection, channel: aio_pika.abc.AbstractChannel,
                 exchange: aio_pika.abc.AbstractExchange) -> None:
        self.connection, self.channel, self.exchange = connection, channel, exchange

    async def publish(self, event: JobEvent) -> None:
        await self.publish_raw(event.model_dump_json().encode(), event.routing_key)

    async def publish_raw(self, body: bytes, routing_key: str) -> None:
        message = aio_pika.Message(
            body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT, content_type="application/json"
        )
        await self.exchange.publish(message, routing_key=routing_key, mandatory=True)


@pytest.fixture
async def events(infra: Infra) -> AsyncIterator[Events]:
    connection = await aio_pika.connect(infra.amqp_url)
    channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
    await topology.declare_base(channel)
    exchange = await topology.declare_exchange(channel, topology.EVENTS)
    try:
        yield Events(connection, channel, exchange)
    finally:
        await connection.close()


def event(job_id: UUID, seq: int, type: EventType, *, service: str = "telemetry-janitor", command: str = "clear",
          **fields: Any) -> JobEvent:
    return JobEvent(job_id=job_id, seq=seq, type=type, service=service, command=command, event_id=uuid4(), **fields)


async def eventually(check: Callable[[], Awaitable[T | None]], *, timeout: float = 15.0, what: str = "") -> T:
    """Poll `check` until it returns something truthy; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or check}; last={last!r}")


async def job_when(
    client: httpx.AsyncClient, job_id: UUID, predicate: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        response = await client.get(f"/jobs/{job_id}")
        if response.status_code != 200:
            return None
        body: dict[str, Any] = response.json()
        return body if predicate(body) else None

    return await eventually(check, what=f"job {job_id}")
