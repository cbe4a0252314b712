"""`ferry-gh-seeder`: the service's entry point (thin: the work is in jobs.py).

    ferry-gh-seeder            consume gh-seeder.* commands and steps; /healthz /readyz /metrics
    ferry-gh-seeder migrate    apply migrations, then exit
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

from ferry.db import migrations_in
from ferry.jobs.model import JobHandler
from ferry.service import JobServiceSpec, run
from ferry_gh_seeder import SERVICE
from ferry_gh_seeder.jobs import SeedJob
from ferry_gh_seeder.resources import LimiterFactory, Resources, amqp_limiter
from ferry_gh_seeder.settings import SeederSettings


def spec(limiter: LimiterFactory = amqp_limiter) -> JobServiceSpec:
    """The service; `limiter` makes its rate limiter (the fleet's, over RabbitMQ, unless told)."""

    def handlers(pool: asyncpg.Pool, settings: SeederSettings) -> Sequence[JobHandler[Any]]:
        # GitHub client, token pool and limiter are made on first use (they need the running loop).
        return [SeedJob(settings, pool, Resources(settings, limiter))]

    return JobServiceSpec(
        service=SERVICE,
        migrations=migrations_in("ferry_gh_seeder"),
        handlers=handlers,
        settings_model=SeederSettings,
    )


def main(argv: Sequence[str] | None = None) -> None:
    run(spec(), argv)


if __name__ == "__main__":
    main()
