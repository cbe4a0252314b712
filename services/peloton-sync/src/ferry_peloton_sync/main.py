"""`ferry-peloton-sync`: the service's entry point (thin: the work is in library_sync.py).

    ferry-peloton-sync            consume peloton-sync.* commands and steps; /healthz /readyz /metrics
    ferry-peloton-sync migrate    apply migrations, then exit

It will not start without FERRY_PELOTON_TOKEN_KEY, or with a key that does not decrypt the stored
tokens.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from ferry.db import migrations_in
from ferry.ratelimit import Limiter
from ferry.service import Handlers, JobServiceSpec, ServiceContext, run
from ferry_peloton_sync import SERVICE
from ferry_peloton_sync.jobs import SyncClassLibraryJob
from ferry_peloton_sync.resources import LimiterFactory, Resources, check_startup
from ferry_peloton_sync.settings import PelotonSettings


def spec(limiter: LimiterFactory | None = None) -> JobServiceSpec:
    """The service; `limiter` makes its rate limiter (default: the lifespan's fleet limiter, `ctx.limiter()`,
    whose silences show in the running steps' heartbeats)."""

    @asynccontextmanager
    async def lifespan(ctx: ServiceContext[PelotonSettings]) -> AsyncIterator[Handlers]:
        async with contextlib.AsyncExitStack() as stack:
            if limiter is None:
                fleet = await stack.enter_async_context(ctx.limiter(timeout_s=ctx.settings.peloton_limiter_timeout_s))

                async def given(_settings: PelotonSettings) -> Limiter:
                    return fleet

                resources = Resources(ctx.settings, ctx.pool, given, close_limiter=False)
            else:
                resources = Resources(ctx.settings, ctx.pool, limiter)
            stack.push_async_callback(resources.aclose)
            yield [SyncClassLibraryJob(resources)]

    return JobServiceSpec(
        service=SERVICE, migrations=migrations_in("ferry_peloton_sync"), lifespan=lifespan,
        settings_model=PelotonSettings, on_startup=check_startup,
    )


def main(argv: Sequence[str] | None = None) -> None:
    run(spec(), argv)


if __name__ == "__main__":
    main()
