"""`ferry-telemetry-janitor`: the service's entry point (thin: everything is in jobs.py and sql.py).

    ferry-telemetry-janitor            consume telemetry-janitor.* commands; /healthz /readyz /metrics
    ferry-telemetry-janitor migrate    apply migrations (and check FERRY_JANITOR_TABLE), then exit
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg
import structlog

from ferry.db import migrations_in, schema_name
from ferry.service import Handlers, JobServiceSpec, ServiceContext, handlers_only, run
from ferry_telemetry_janitor import SERVICE, sql
from ferry_telemetry_janitor.jobs import ClearJob, SeedDemoJob
from ferry_telemetry_janitor.settings import JanitorSettings

log = structlog.get_logger(__name__)


async def on_startup(conn: asyncpg.Connection, settings: JanitorSettings) -> None:
    """After migrations: refuse to start when FERRY_JANITOR_TABLE does not exist (TableNotFound)."""
    await sql.check_table(conn, settings.table_sql)
    await sql.ensure_rate_row(conn, schema_name(SERVICE), settings.table_sql)
    log.info("janitor table ready", table=settings.janitor_table, max_lock_ms=settings.janitor_max_lock_ms)


def handlers(ctx: ServiceContext[JanitorSettings]) -> Handlers:
    # Nothing to open or close: every step works in the connection (and transaction) it is handed.
    return [ClearJob(ctx.settings), SeedDemoJob(ctx.settings)]


def spec() -> JobServiceSpec:
    return JobServiceSpec(
        service=SERVICE,
        migrations=migrations_in("ferry_telemetry_janitor"),
        lifespan=handlers_only(handlers),
        settings_model=JanitorSettings,
        on_startup=on_startup,
    )


def main(argv: Sequence[str] | None = None) -> None:
    run(spec(), argv)


if __name__ == "__main__":
    main()
