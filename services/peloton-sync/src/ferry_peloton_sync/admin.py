"""What `ferry peloton-sync connect / connections list / disconnect` do, on the service's table.

They run where this package is installed (the service's image, the uv workspace), with the
database URL and FERRY_PELOTON_TOKEN_KEY: tokens are encrypted here, before they leave the process,
and never go over the broker. The table is created first if the service has not started yet.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg

from ferry.cli.errors import CliError, Refused
from ferry.db import connect, migrate_database, migrations_in, schema_name
from ferry.logging import configure_logging
from ferry_peloton_sync import SERVICE, connections
from ferry_peloton_sync.connections import ConnectionInfo
from ferry_peloton_sync.crypto import TokenCipher
from ferry_peloton_sync.errors import TokenKeyError
from ferry_peloton_sync.settings import PelotonSettings
from ferry_peloton_sync.tokens import Tokens
from ferry_peloton_sync.tokens import read_tokens as read_tokens

T = TypeVar("T")


class DatabaseUnreachable(CliError):
    exit_code = 3


def _run(settings: PelotonSettings, work: Callable[[asyncpg.Connection, TokenCipher], Awaitable[T]]) -> T:
    try:
        cipher = TokenCipher.from_settings(settings)
    except TokenKeyError as exc:
        raise Refused(str(exc)) from None
    # Warnings only, on stderr (redacted): stdout is the command's answer (`--json`).
    configure_logging(SERVICE, settings.model_copy(update={"log_level": "WARNING"}))

    async def go() -> T:
        dsn = settings.database_url.get_secret_value()
        await migrate_database(dsn, schema_name(SERVICE), migrations_in("ferry_peloton_sync"))
        conn = await connect(dsn)
        try:
            return await work(conn, cipher)
        finally:
            await conn.close()

    try:
        return asyncio.run(go())
    except TokenKeyError as exc:
        raise Refused(str(exc)) from None
    except (OSError, asyncpg.PostgresConnectionError) as exc:
        raise DatabaseUnreachable(f"cannot reach the database (FERRY_DATABASE_URL): {type(exc).__name__}") from None


def connect_account(settings: PelotonSettings, *, username: str, email: str | None, tokens: Tokens) -> ConnectionInfo:
    async def work(conn: asyncpg.Connection, cipher: TokenCipher) -> ConnectionInfo:
        await connections.check_key(conn, cipher)  # one key for every row: refuse a different one
        return await connections.save(conn, cipher, username, email, tokens)

    return _run(settings, work)


def list_accounts(settings: PelotonSettings) -> list[ConnectionInfo]:
    async def work(conn: asyncpg.Connection, _cipher: TokenCipher) -> list[ConnectionInfo]:
        return await connections.list_all(conn)

    return _run(settings, work)


def disconnect_account(settings: PelotonSettings, username: str) -> bool:
    async def work(conn: asyncpg.Connection, _cipher: TokenCipher) -> bool:
        return await connections.delete(conn, username)

    return _run(settings, work)
