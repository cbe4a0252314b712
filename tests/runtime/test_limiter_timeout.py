"""A step waiting on a rate limiter that never answers: bounded by FERRY_STEP_TIMEOUT_S, parked (never
counted failed), and finished once the limiter answers again. Real broker, database and limiter."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from ferry.contracts import JobEvent
from ferry.jobs import JobHandler, Plan, Step, StepResult
from ferry.ratelimit import Limiter
from ferry.service import Handlers, JobServiceSpec, ServiceContext, create_app
from ferry.settings import FerrySettings
from tests.ratelimit.conftest import limiter_in_process
from tests.runtime.harness import CountData, CountOptions, EventTap, Item, settings_for
from tests.support.infra import Infra

FINAL = {"completed", "failed", "cancelled", "rejected"}


class LimitedJob(JobHandler[CountOptions, Item, CountData]):
    """One step per item; each first asks the fleet's limiter for a token on `toy:upstream`."""

    command = "count"
    options_model = CountOptions
    step_model = Item
    data_model = CountData

    def __init__(self, limiter: Limiter) -> None:
        self.limiter = limiter

    async def plan(self, step: Step[CountOptions, Plan, CountData]) -> StepResult[Item, CountData]:
        return StepResult(total=step.options.items, children=[Item(item=i) for i in range(step.options.items)])

    async def run_step(self, step: Step[CountOptions, Item, CountData]) -> StepResult[Item, CountData]:
        await self.limiter.acquire("toy:upstream")
        return StepResult(succeeded=1, message=f"item {step.payload.item} done")


@asynccontextmanager
async def limited(ctx: ServiceContext[FerrySettings]) -> AsyncIterator[Handlers]:
    async with ctx.limiter(timeout_s=0.3) as limiter:
        yield [LimitedJob(limiter)]


@asynccontextmanager
async def limited_service(infra: Infra, **settings: Any) -> AsyncIterator[Any]:
    app = create_app(JobServiceSpec(service="toy", migrations=[], lifespan=limited), settings_for(infra, **settings))
    async with app.router.lifespan_context(app):
        yield app


async def test_a_step_waiting_on_a_silent_limiter_is_parked_at_the_step_timeout_and_finishes_later(
    infra: Infra,
) -> None:
    # No limiter runs: every acquire goes unanswered (the client fails closed and asks again). The
    # step is stopped at FERRY_STEP_TIMEOUT_S (1 s here) and parked; the limiter then starts.
    async with limited_service(infra, step_timeout_s=1), EventTap.open(infra) as tap:
        job_id = await tap.start(CountOptions(items=2))
        parks: list[JobEvent] = []
        while len(parks) < 3:  # both steps parked, and one of them again after its first wait
            event = await tap.until(job_id, {"progress"}, timeout=30)
            if "waiting_s" in event.detail:
                parks.append(event)
        async with limiter_in_process(infra, {"toy:*": {"rate": 100, "burst": 10}}):
            final = await tap.until(job_id, FINAL, timeout=60)
    for parked in parks:
        assert "step ran longer than 1s" in parked.message, parked.message
        assert "waiting for the rate limiter" in parked.message, parked.message  # a re-run says so too
        assert parked.failed == 0
    assert final.type == "completed", final.message
    assert (final.total, final.succeeded, final.failed) == (2, 2, 0)
    assert not [e for e in tap.of(job_id) if e.type == "item_failed"]
