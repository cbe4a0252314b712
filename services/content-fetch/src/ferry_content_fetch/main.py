"""`ferry-content-fetch`: the service's entry point (thin: the work is in jobs.py).

    ferry-content-fetch            consume content-fetch.* commands and steps; /healthz /readyz /metrics
    ferry-content-fetch migrate    apply migrations, then exit
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import httpx

from ferry.db import migrations_in
from ferry.service import Handlers, JobServiceSpec, ServiceContext, run
from ferry_content_fetch import SERVICE
from ferry_content_fetch.jobs import FetchContent
from ferry_content_fetch.settings import ContentFetchSettings


@asynccontextmanager
async def lifespan(ctx: ServiceContext[ContentFetchSettings]) -> AsyncIterator[Handlers]:
    settings = ctx.settings
    headers = {"User-Agent": "ferry-content-fetch/0.1"}
    async with httpx.AsyncClient(timeout=settings.content_fetch_http_timeout_s, headers=headers,
                                 follow_redirects=True) as http, ctx.limiter() as limiter:
        yield [FetchContent(settings, http, limiter, ctx.pool)]


SPEC = JobServiceSpec(
    service=SERVICE, migrations=migrations_in("ferry_content_fetch"), lifespan=lifespan,
    settings_model=ContentFetchSettings,
)


def main(argv: Sequence[str] | None = None) -> None:
    run(SPEC, argv)


if __name__ == "__main__":
    main()
