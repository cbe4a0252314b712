"""A toy service built the way docs/adding-a-service.md says, run in-process on the real broker and database.

If the recipe and the platform drift apart (a name, a signature, the lifespan's order), this fails.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Literal

import aio_pika
import asyncpg
from pydantic import Field

from ferry import topology
from ferry.contracts import Command, Options
from ferry.db import Migration
from ferry.jobs import FinishedJob, JobData, JobHandler, JobSummary, Plan, Step, StepPayload, StepResult
from ferry.service import Handlers, JobServiceSpec, ServiceContext, create_app
from ferry.settings import FerrySettings
from tests.runtime.harness import SERVICE, EventTap, settings_for
from tests.support.infra import Infra

FINAL = {"completed", "failed", "cancelled", "rejected"}


class GreetOptions(Options):  # the contract (in a real service: shared/src/ferry/contracts/<svc>.py)
    names: list[str] = Field(description="Who to greet, one step each.")


class Greet(StepPayload):
    kind: Literal["greet"] = "greet"
    name: str


class GreetData(JobData):
    greeted: int = 0


class Greeter:
    """The resource the lifespan opens: records whether it was closed."""

    def __init__(self) -> None:
        self.closed = False

    def hello(self, name: str) -> str:
        assert not self.closed, "used after close"
        return f"hello {name}"


class GreetJob(JobHandler[GreetOptions, Greet, GreetData]):
    command = "greet"
    options_model = GreetOptions
    step_model = Greet
    data_model = GreetData

    def __init__(self, greeter: Greeter) -> None:
        self.greeter = greeter

    async def plan(self, step: Step[GreetOptions, Plan, GreetData]) -> StepResult[Greet, GreetData]:
        children = [Greet(name=n) for n in step.options.names]
        return StepResult(total=len(children), children=children, data=GreetData(), message="planned")

    async def run_step(self, step: Step[GreetOptions, Greet, GreetData]) -> StepResult[Greet, GreetData]:
        text = self.greeter.hello(step.payload.name)
        await step.conn.execute("INSERT INTO toy.greetings (job_id, text) VALUES ($1, $2)", step.job_id, text)
        # No data update here: steps run in parallel, and a read-modify-write of a data field would
        # lose increments (see docs/adding-a-service.md). Counts go in the counters.
        return StepResult(succeeded=1)

    async def on_job_end(self, job: FinishedJob[GreetOptions, GreetData]) -> JobSummary[GreetData]:
        data = job.data.model_copy(update={"greeted": job.succeeded})
        return JobSummary(message=f"Greeted {job.succeeded} of {job.total}", data=data)


def make_spec(opened: list[Greeter]) -> JobServiceSpec:
    @asynccontextmanager
    async def lifespan(ctx: ServiceContext[FerrySettings]) -> AsyncIterator[Handlers]:
        greeter = Greeter()
        opened.append(greeter)
        try:
            yield [GreetJob(greeter)]
        finally:
            greeter.closed = True

    migration = Migration("0001_greetings", "CREATE TABLE toy.greetings (job_id uuid NOT NULL, text text NOT NULL)")
    return JobServiceSpec(service=SERVICE, migrations=[migration], lifespan=lifespan)


async def test_a_service_built_by_the_recipe_runs_a_job_and_closes_its_resources(infra: Infra) -> None:
    opened: list[Greeter] = []
    app = create_app(make_spec(opened), settings_for(infra))
    async with app.router.lifespan_context(app), EventTap.open(infra) as tap:
        envelope = Command[GreetOptions](requested_by="test", options=GreetOptions(names=["ada", "bob", "cy"]))
        await tap.publish("greet", envelope.model_dump_json().encode())
        final = await tap.until(envelope.job_id, FINAL)
        assert not opened[0].closed  # open while the service runs
    assert final.type == "completed", final.message
    assert final.message == "Greeted 3 of 3"
    assert final.detail["result"]["greeted"] == 3
    assert len(opened) == 1
    assert opened[0].closed, "the lifespan's resource was not closed at shutdown"
    conn = await asyncpg.connect(infra.database_url)
    try:
        rows = await conn.fetch("SELECT text FROM toy.greetings WHERE job_id = $1 ORDER BY text", envelope.job_id)
    finally:
        await conn.close()
    assert [r["text"] for r in rows] == ["hello ada", "hello bob", "hello cy"]


async def test_a_started_service_has_declared_every_queue_it_and_the_status_service_need(infra: Infra) -> None:
    """Commands and events published while the status service (or this one) is away must wait in a
    queue: a job service on a fresh broker declares the base queues and its own, nothing else does."""
    app = create_app(make_spec([]), settings_for(infra))
    async with app.router.lifespan_context(app):
        connection = await aio_pika.connect(infra.amqp_url)
        try:
            names = [q.name for q, _ in topology.BASE_QUEUES] + [q.name for q, _ in topology.service_queues(SERVICE)]
            for name in names:
                channel = await connection.channel()  # a failed passive declare closes its channel
                await channel.declare_queue(name, passive=True)
        finally:
            await connection.close()
    assert "status.commands" in names
