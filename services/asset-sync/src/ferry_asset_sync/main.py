"""`ferry-asset-sync`: the service's entry point (thin: the work is in steps.py).

    ferry-asset-sync            consume asset-sync.* commands and steps; /healthz /readyz /metrics
    ferry-asset-sync migrate    apply migrations (and check FERRY_ASSET_SYNC_TABLE), then exit
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import asyncpg
import structlog

from ferry.db import migrations_in
from ferry.service import Handlers, JobServiceSpec, ServiceContext, run
from ferry_asset_sync import SERVICE
from ferry_asset_sync.assets import AssetTable
from ferry_asset_sync.jobs import PullAndCleanJob
from ferry_asset_sync.resources import LimiterFactory, Resources, amqp_limiter
from ferry_asset_sync.settings import AssetSyncSettings

log = structlog.get_logger(__name__)


async def on_startup(conn: asyncpg.Connection, settings: AssetSyncSettings) -> None:
    """After migrations: refuse to start when FERRY_ASSET_SYNC_TABLE is not an assets table."""
    table = await AssetTable.load(conn, settings.table_sql, settings.asset_sync_table)
    log.info("assets table ready", table=settings.asset_sync_table, columns=len(table.columns),
             github_tokens=len(settings.github_tokens), owners_with_tokens=len(settings.asset_sync_owner_tokens))


def spec(limiter: LimiterFactory = amqp_limiter) -> JobServiceSpec:
    """The service; `limiter` makes its rate limiter (the fleet's, over RabbitMQ, unless told)."""

    @asynccontextmanager
    async def lifespan(ctx: ServiceContext[AssetSyncSettings]) -> AsyncIterator[Handlers]:
        resources = Resources(ctx.settings, limiter)
        try:
            yield [PullAndCleanJob(ctx.settings, ctx.pool, resources)]
        finally:
            await resources.aclose()

    return JobServiceSpec(service=SERVICE, migrations=migrations_in("ferry_asset_sync"), lifespan=lifespan,
                          settings_model=AssetSyncSettings, on_startup=on_startup)


def main(argv: Sequence[str] | None = None) -> None:
    run(spec(), argv)


if __name__ == "__main__":
    main()
