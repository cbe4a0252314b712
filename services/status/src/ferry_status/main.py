"""`ferry-status`: run the status service; `ferry-status migrate`: apply its migrations and exit."""

from __future__ import annotations

import asyncio
import sys

import uvicorn

from ferry.db import connect, ensure_database
from ferry.logging import configure_logging
from ferry_status import SERVICE, store
from ferry_status.api import create_app
from ferry_status.settings import StatusSettings

USAGE = "usage: ferry-status [migrate]"


async def migrate_only(settings: StatusSettings) -> list[str]:
    dsn = settings.database_url.get_secret_value()
    await ensure_database(dsn)
    conn = await connect(dsn)
    try:
        return await store.apply_migrations(conn)
    finally:
        await conn.close()


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if args and args != ["migrate"]:
        print(USAGE, file=sys.stderr)
        raise SystemExit(2)
    settings = StatusSettings()
    log = configure_logging(SERVICE, settings)
    if args == ["migrate"]:
        applied = asyncio.run(migrate_only(settings))
        log.info("migrations up to date", applied=applied)
        return
    uvicorn.run(
        create_app(settings), host=settings.http_host, port=settings.http_port, log_config=None,
        access_log=False, lifespan="on",
    )


if __name__ == "__main__":
    main()
