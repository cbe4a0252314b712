"""`ferry-peloton-sync`: the service's entry point (thin: the work is in library_sync.py).

    ferry-peloton-sync            consume peloton-sync.* commands and steps; /healthz /readyz /metrics
    ferry-peloton-sync migrate    apply migrations, then exit

It will not start without FERRY_PELOTON_TOKEN_KEY, or with a key that does not decrypt the stored
tokens.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from ferry.db import migrations_in
from ferry.service import Handlers, JobServiceSpec, ServiceContext, run
from ferry_peloton_sync import SERVICE
from ferry_peloton_sync.jobs import SyncClassLibraryJob
from ferry_peloton_sync.resources import LimiterFactory, Resources, amqp_limiter, check_startup
from ferry_peloton_sync.settings import PelotonSettings


def spec(limiter: LimiterFactory = amqp_limiter) -> JobServiceSpec:
    """The service; `limiter` makes its rate limiter (the fleet's, over RabbitMQ, unless told)."""

    @asynccontextmanager
    async def lifespan(ctx: ServiceContext[PelotonSettings]) -> AsyncIterator[Handlers]:
        resources = Resources(ctx.settings, ctx.pool, limiter)
        try:
            yield [SyncClassLibraryJob(resources)]
        finally:
            await resources.aclose()

    return JobServiceSpec(
        service=SERVICE, migrations=migrations_in("ferry_peloton_sync"), lifespan=lifespan,
        settings_model=PelotonSettings, on_startup=check_startup,
    )


def main(argv: Sequence[str] | None = None) -> None:
    run(spec(), argv)


if __name__ == "__main__":
    main()
