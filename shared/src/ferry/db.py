"""Postgres access: the asyncpg pool and a small migration runner.

Each service owns one schema (its name with `_` for `-`) and ships its migrations as
numbered `.sql` files. `migrate()` applies the missing ones in order, each in its own
transaction, under a Postgres advisory lock keyed by the schema, so replicas starting
at once apply each migration exactly once. `{schema}` in a file is replaced by the
schema's quoted name.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Annotated, Any, TypeAlias

import asyncpg
import structlog
from asyncpg.pool import PoolConnectionProxy
from pydantic import AfterValidator

log = structlog.get_logger(__name__)

Conn: TypeAlias = "asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]"
"""A connection, whether opened alone or taken from a pool."""

_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_MIGRATION = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


def schema_name(service: str) -> str:
    """`telemetry-janitor` -> `telemetry_janitor`."""
    return ident(service.replace("-", "_"))


def ident(name: str) -> str:
    """A safe SQL identifier (lower-case word), or ValueError naming the bad value."""
    if not _IDENT.match(name):
        raise ValueError(f"not a valid SQL identifier: {name!r}")
    return name


def quoted_name(name: str) -> str:
    """Any name Postgres accepts in double quotes (capitals, dashes: `Ferry-Prod`), quoted; a NUL
    or more than 63 bytes is a ValueError naming the value. URL-escaped names are decoded first."""
    from urllib.parse import unquote

    name = unquote(name)
    if not name or "\x00" in name or len(name.encode()) > 63:
        raise ValueError(f"not a valid Postgres name: {name!r}")
    return '"' + name.replace('"', '""') + '"'


def qualified(name: str, default_schema: str = "public") -> str:
    """`schema.table` or `table` -> a quoted, validated `"schema"."table"`."""
    schema, _, table = name.rpartition(".")
    return f'"{ident(schema or default_schema)}"."{ident(table)}"'


def _checked_table(name: str) -> str:
    qualified(name)  # raises ValueError naming the bad identifier
    return name


TableName = Annotated[str, AfterValidator(_checked_table)]
"""A settings field naming a table, `schema.table` or `table`: refused at load when not a valid
SQL name, so a service never starts with a table it could not quote. `qualified()` quotes it."""


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
    await conn.set_type_codec("json", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def create_pool(dsn: str, *, min_size: int = 1, max_size: int = 10, **kwargs: Any) -> asyncpg.Pool:
    """A pool whose connections encode and decode json/jsonb as Python objects."""
    pool = await asyncpg.create_pool(
        dsn, min_size=min_size, max_size=max_size, init=_init_connection, **kwargs
    )
    assert pool is not None
    return pool


async def connect(dsn: str) -> asyncpg.Connection:
    conn = await asyncpg.connect(dsn)
    await _init_connection(conn)
    return conn


@dataclass(frozen=True)
class Migration:
    version: str
    sql: str


def migrations_in(package: str, folder: str = "migrations", prefix: str = "") -> list[Migration]:
    """The `NNNN_name.sql` files of a package folder, in order; versions get `prefix`."""
    root: Traversable = resources.files(package).joinpath(folder)
    found = [
        Migration(f"{prefix}{entry.name.removesuffix('.sql')}", entry.read_text(encoding="utf-8"))
        for entry in root.iterdir()
        if _MIGRATION.match(entry.name)
    ]
    return sorted(found, key=lambda m: m.version)


def runtime_migrations() -> list[Migration]:
    """The job runtime's tables (jobs, steps, outbox), created in every job service's schema."""
    return migrations_in("ferry.jobs", prefix="runtime-")


async def migrate(conn: asyncpg.Connection, schema: str, migrations: list[Migration]) -> list[str]:
    """Apply the missing `migrations` to `schema`; returns the versions applied now."""
    schema = ident(schema)
    applied_now: list[str] = []
    await conn.execute("SELECT pg_advisory_lock(hashtext($1))", f"ferry.migrate.{schema}")
    try:
        await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        await conn.execute(
            f'CREATE TABLE IF NOT EXISTS "{schema}".schema_migrations ('
            " version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {r["version"] for r in await conn.fetch(f'SELECT version FROM "{schema}".schema_migrations')}
        for migration in migrations:
            if migration.version in done:
                continue
            async with conn.transaction():
                await conn.execute(migration.sql.replace("{schema}", f'"{schema}"'))
                await conn.execute(
                    f'INSERT INTO "{schema}".schema_migrations (version) VALUES ($1)', migration.version
                )
            applied_now.append(migration.version)
            log.info("migration applied", schema=schema, version=migration.version)
    finally:
        await conn.execute("SELECT pg_advisory_unlock(hashtext($1))", f"ferry.migrate.{schema}")
    return applied_now


async def migrate_database(dsn: str, schema: str, migrations: list[Migration]) -> list[str]:
    """Create the database if missing, then apply `migrations` to `schema`; the versions applied now."""
    await ensure_database(dsn)
    conn = await connect(dsn)
    try:
        return await migrate(conn, schema, migrations)
    finally:
        await conn.close()


async def ensure_database(dsn: str) -> None:
    """Create the database named in `dsn` if it does not exist (for a first local start)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(dsn)
    name = parts.path.lstrip("/")
    if not name:
        return
    try:
        conn = await asyncpg.connect(dsn)
    except asyncpg.InvalidCatalogNameError:
        admin = await asyncpg.connect(urlunsplit(parts._replace(path="/postgres")))
        try:
            await admin.execute(f"CREATE DATABASE {quoted_name(name)}")
        except (asyncpg.DuplicateDatabaseError, asyncpg.UniqueViolationError):  # another replica won the race
            pass
        finally:
            await admin.close()
    else:
        await conn.close()
