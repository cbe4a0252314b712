"""`ferry-peloton-sync`: the service's entry point (thin: the work is in library_sync.py).

    ferry-peloton-sync            consume peloton-sync.* commands and steps; /healthz /readyz /metrics
    ferry-peloton-sync migrate    apply migrations, then exit

It will not start without FERRY_PELOTON_TOKEN_KEY, or with a key that does not decrypt the stored
tokens.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

from ferry.db import migrations_in
from ferry.jobs.model import JobHandler
from ferry.service import JobServiceSpec, run
from ferry_peloton_sync import SERVICE
from ferry_peloton_sync.jobs import SyncClassLibraryJob
from ferry_peloton_sync.resources import LimiterFactory, Resources, amqp_limiter, check_startup
from ferry_peloton_sync.settings import PelotonSettings


def spec(limiter: LimiterFactory = amqp_limiter) -> JobServiceSpec:
    """The service; `limiter` makes its rate limiter (the fleet's, over RabbitMQ, unless told)."""

    def handlers(pool: asyncpg.Pool, settings: PelotonSettings) -> Sequence[JobHandler[Any]]:
        return [SyncClassLibraryJob(Resources(settings, pool, limiter))]

    return JobServiceSpec(
        service=SERVICE, migrations=migrations_in("ferry_peloton_sync"), handlers=handlers,
        settings_model=PelotonSettings, on_startup=check_startup,
    )


def main(argv: Sequence[str] | None = None) -> None:
    run(spec(), argv)


if __name__ == "__main__":
    main()
