"""`ferry-status`: run the status service; `ferry-status migrate`: apply its migrations and exit."""

from __future__ import annotations

from collections.abc import Sequence

from ferry.db import migrate_database
from ferry.serve import serve
from ferry_status import SERVICE, store
from ferry_status.api import create_app
from ferry_status.settings import StatusSettings


def main(argv: Sequence[str] | None = None) -> None:
    settings = StatusSettings()
    dsn = settings.database_url.get_secret_value()
    serve(
        SERVICE, settings, app=lambda: create_app(settings),
        migrate=lambda: migrate_database(dsn, store.SCHEMA, store.migrations()), argv=argv,
    )


if __name__ == "__main__":
    main()
