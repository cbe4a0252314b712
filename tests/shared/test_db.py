"""Migrations: applied once, in order, even when several replicas start at the same moment."""

from __future__ import annotations

import asyncio
import uuid
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from ferry.db import Migration, ensure_database, ident, migrate, qualified, quoted_name
from tests.support.infra import Infra, Servers, _admin

MIGRATIONS = [
    Migration("0001_items", "CREATE TABLE {schema}.items (id int PRIMARY KEY)"),
    Migration("0002_counter", "INSERT INTO {schema}.items VALUES ((SELECT count(*) FROM {schema}.items) + 1)"),
]


async def test_replicas_migrating_at_once_apply_each_migration_once(infra: Infra) -> None:
    conns = [await asyncpg.connect(infra.database_url) for _ in range(5)]
    try:
        applied = await asyncio.gather(*(migrate(c, "demo", MIGRATIONS) for c in conns))
        rows = await conns[0].fetch("SELECT id FROM demo.items")
        versions = await conns[0].fetch("SELECT version FROM demo.schema_migrations ORDER BY version")
    finally:
        for c in conns:
            await c.close()
    assert sorted(v for batch in applied for v in batch) == ["0001_items", "0002_counter"]
    assert [r["id"] for r in rows] == [1]  # the data migration ran exactly once
    assert [r["version"] for r in versions] == ["0001_items", "0002_counter"]


def test_identifiers_are_validated() -> None:
    assert qualified("public.assignments_learnpackwebhook") == '"public"."assignments_learnpackwebhook"'
    assert qualified("webhooks", "telemetry_janitor") == '"telemetry_janitor"."webhooks"'
    with pytest.raises(ValueError, match="not a valid SQL identifier"):
        ident('x"; DROP TABLE y; --')


async def test_a_database_whose_name_has_capitals_is_created(servers: Servers) -> None:
    name = f"Ferry-Test-{uuid.uuid4().hex[:6]}"  # legal in Postgres when quoted
    admin = servers.admin_database_url
    dsn = urlunsplit(urlsplit(admin)._replace(path="/" + name))
    try:
        await ensure_database(dsn)
        conn = await asyncpg.connect(dsn)
        assert await conn.fetchval("SELECT current_database()") == name
        await conn.close()
    finally:
        await _admin(admin, f"DROP DATABASE IF EXISTS {quoted_name(name)} WITH (FORCE)")
    with pytest.raises(ValueError, match="not a valid Postgres name"):
        quoted_name("x" * 64)
