"""`ferry-gh-seeder`: the service's entry point (thin: the work is in jobs.py).

    ferry-gh-seeder            consume gh-seeder.* commands and steps; /healthz /readyz /metrics
    ferry-gh-seeder migrate    apply migrations, then exit
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager

from ferry.db import migrations_in
from ferry.service import Handlers, JobServiceSpec, ServiceContext, run
from ferry_gh_seeder import SERVICE
from ferry_gh_seeder.jobs import SeedJob
from ferry_gh_seeder.resources import github_source
from ferry_gh_seeder.settings import SeederSettings
from ferry_gh_seeder.source import PullSource


def spec(wrap_source: Callable[[PullSource], PullSource] | None = None) -> JobServiceSpec:
    """The service; tests may wrap its GitHub source (to make some calls fail)."""

    @asynccontextmanager
    async def lifespan(ctx: ServiceContext[SeederSettings]) -> AsyncIterator[Handlers]:
        settings = ctx.settings
        async with ctx.limiter(timeout_s=settings.gh_seeder_limiter_timeout_s) as limiter, github_source(
            settings, limiter
        ) as source:
            yield [SeedJob(settings, ctx.pool, wrap_source(source) if wrap_source else source)]

    return JobServiceSpec(
        service=SERVICE,
        migrations=migrations_in("ferry_gh_seeder"),
        lifespan=lifespan,
        settings_model=SeederSettings,
    )


def main(argv: Sequence[str] | None = None) -> None:
    run(spec(), argv)


if __name__ == "__main__":
    main()
