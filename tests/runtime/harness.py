"""A toy job service on the real broker and database, to exercise the runtime itself."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Literal
from uuid import UUID, uuid4

import aio_pika
from pydantic import Field

from ferry import topology
from ferry.contracts import Command, JobEvent, Options
from ferry.jobs import (
    FinishedJob,
    ItemFailed,
    JobData,
    JobFailed,
    JobHandler,
    JobSummary,
    Plan,
    RetryLater,
    Step,
    StepPayload,
    StepResult,
)
from ferry.service import JobServiceSpec, create_app, handlers_only
from ferry.settings import FerrySettings
from tests.support.infra import Infra

SERVICE = "toy"


class CountOptions(Options):
    items: int = Field(10, ge=0)
    fail: list[int] = Field(default_factory=list, description="Items that fail.")
    explode_at: int | None = Field(None, description="Item whose step fails the whole job.")
    retry_once: int | None = Field(None, description="Item that asks to be retried once.")
    retry_always: int | None = Field(None, description="Item that asks to be retried every time.")
    outage_s: float = Field(0, description="For how long item 0 meets connection errors (as if Postgres were down).")
    sleep_s: float = 0.0


OUTAGES: dict[UUID, float] = {}
"""When item 0 of each job first met its outage."""


class Item(StepPayload):
    kind: Literal["item"] = "item"
    item: int


class CountData(JobData):
    planned: bool = False


class CountJob(JobHandler[CountOptions, Item, CountData]):
    """Plans one step per item; each step records its item in a table (so doubles would show)."""

    command = "count"
    options_model = CountOptions
    step_model = Item
    data_model = CountData

    async def plan(self, step: Step[CountOptions, Plan, CountData]) -> StepResult[Item, CountData]:
        await step.conn.execute("CREATE TABLE IF NOT EXISTS toy.done_items (job_id uuid, item int)")
        children = [Item(item=i) for i in range(step.options.items)]
        return StepResult(total=step.options.items, children=children, message="planned", data=CountData(planned=True))

    async def run_step(self, step: Step[CountOptions, Item, CountData]) -> StepResult[Item, CountData]:
        item = step.payload.item
        if step.options.sleep_s:
            await asyncio.sleep(step.options.sleep_s)
        if item == step.options.retry_once and step.attempt == 1:
            raise RetryLater(0.1, "toy wants a second go")
        if item == step.options.retry_always:
            raise RetryLater(0.1, "toy is never ready")
        if item == 0 and step.options.outage_s:
            began = OUTAGES.setdefault(step.job_id, time.monotonic())
            if time.monotonic() - began < step.options.outage_s:
                raise ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 5432)")
        if item == step.options.explode_at:
            raise JobFailed(f"item {item} is fatal")
        await step.conn.execute("INSERT INTO toy.done_items VALUES ($1, $2)", step.job_id, item)
        if item in step.options.fail:
            raise ItemFailed(f"item {item} is bad", item=str(item))
        return StepResult(succeeded=1, message=f"item {item} done")

    async def on_job_end(self, job: FinishedJob[CountOptions, CountData]) -> JobSummary[CountData]:
        return JobSummary(f"counted {job.succeeded} items, {job.failed} failed")


SPEC = JobServiceSpec(service=SERVICE, migrations=[], lifespan=handlers_only(lambda ctx: [CountJob()]))


def settings_for(infra: Infra, **extra: Any) -> FerrySettings:
    return FerrySettings(amqp_url=infra.amqp_url, database_url=infra.database_url, **extra)


@asynccontextmanager
async def toy_service(infra: Infra, **settings: Any) -> AsyncIterator[Any]:
    app = create_app(SPEC, settings_for(infra, **settings))
    async with app.router.lifespan_context(app):
        yield app


class EventTap:
    """Reads every job event from a queue of its own bound to ferry.events."""

    def __init__(
        self, channel: aio_pika.abc.AbstractChannel, queue: aio_pika.abc.AbstractQueue, service: str = SERVICE
    ) -> None:
        self.channel, self.queue, self.service = channel, queue, service
        self.events: list[JobEvent] = []

    @classmethod
    @asynccontextmanager
    async def open(cls, infra: Infra, service: str = SERVICE) -> AsyncIterator[EventTap]:
        """A tap on every job event of the vhost; `publish` and `start` send commands to `service`."""
        connection = await aio_pika.connect_robust(infra.amqp_url)
        try:
            channel = await connection.channel()
            await topology.declare_base(channel)
            queue = await channel.declare_queue(exclusive=True)
            await queue.bind(topology.EVENTS.name, routing_key="#")  # every service's: other harnesses share it
            tap = cls(channel, queue, service)
            tap.connection = connection  # type: ignore[attr-defined]
            yield tap
        finally:
            await connection.close()

    async def publish(self, command: str, body: bytes | dict[str, Any]) -> None:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        exchange = await self.channel.get_exchange(topology.COMMANDS.name)
        await exchange.publish(aio_pika.Message(raw, delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                               routing_key=f"{self.service}.{command}")

    async def start(self, options: Options, job_id: UUID | None = None, command: str = "count") -> UUID:
        envelope = Command[Any](job_id=job_id or uuid4(), requested_by="test", options=options)
        await self.publish(command, envelope.model_dump_json().encode())
        return envelope.job_id

    async def until(self, job_id: UUID, types: set[str], timeout: float = 20) -> JobEvent:
        """Collect events until one of `types` arrives for `job_id`; returns it."""
        async with asyncio.timeout(timeout):
            async with self.queue.iterator() as messages:
                async for message in messages:
                    async with message.process():
                        event = JobEvent.model_validate_json(message.body)
                    self.events.append(event)
                    if event.job_id == job_id and event.type.value in types:
                        return event
        raise AssertionError("unreachable")

    def of(self, job_id: UUID) -> list[JobEvent]:
        return sorted((e for e in self.events if e.job_id == job_id), key=lambda e: e.seq)
