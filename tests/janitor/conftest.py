"""Fixtures of the janitor's tests: the test's own database, migrated, the janitor service running on it
(ferry's real runtime, in this process), and ways to fill the table."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest

from ferry.db import Conn, connect, migrate, qualified, runtime_migrations, schema_name
from ferry_telemetry_janitor import SERVICE, sql
from ferry_telemetry_janitor.main import spec
from ferry_telemetry_janitor.settings import DEFAULT_TABLE, JanitorSettings
from tests.janitor.in_process import InProcessJanitor, in_process_janitor
from tests.support.infra import Servers, _admin, own_vhost

TABLE = qualified(DEFAULT_TABLE)


@pytest.fixture(scope="session")
def janitor_amqp_url(servers: Servers) -> Iterator[str]:
    """One broker vhost for the janitor's tests (a vhost costs seconds of rabbitmqctl; a database, not).

    Each test has its own database and so its own jobs: a message a previous test left in the
    janitor's queues names a job this test's database does not have, and is dropped.
    """
    if not servers.local_rabbitmqctl:
        yield servers.amqp_url
        return
    with own_vhost(servers.amqp_url, f"ferry-test-janitor-{uuid.uuid4().hex[:10]}") as url:
        yield url


@pytest.fixture
async def janitor(janitor_amqp_url: str, database_url: str, db: Conn) -> AsyncIterator[InProcessJanitor]:
    """The janitor service on this test's database: `await janitor.run_job(handler, options)`."""
    async with in_process_janitor(janitor_amqp_url, database_url) as service:
        yield service


@pytest.fixture
def database_url(servers: Servers) -> Iterator[str]:
    """This test's own database."""
    name = f"ferry_test_janitor_{uuid.uuid4().hex[:10]}"
    admin = servers.admin_database_url
    asyncio.run(_admin(admin, f'CREATE DATABASE "{name}"'))
    try:
        yield urlunsplit(urlsplit(admin)._replace(path="/" + name))
    finally:
        asyncio.run(_admin(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Conn]:
    """A connection to this test's database, with the janitor's migrations applied."""
    conn = await connect(database_url)
    try:
        await migrate(conn, schema_name(SERVICE), [*runtime_migrations(), *spec().migrations])
        yield conn
    finally:
        await conn.close()


def settings(database_url: str, **overrides: object) -> JanitorSettings:
    """The janitor's settings for this test's database."""
    values: dict[str, object] = {"database_url": database_url, "janitor_table": DEFAULT_TABLE}
    values.update(overrides)
    return JanitorSettings(**values)  # type: ignore[arg-type]


async def seed(conn: Conn, rows: int, *, pending: float = 0.4, done: float = 0.3, ignored: float = 0.2,
               table: str = TABLE) -> None:
    """Insert `rows` demo rows with these status shares (the rest ERROR)."""
    await sql.insert_demo_rows(conn, table, 1, rows, rows, sql.share_thresholds(pending, done, ignored))


async def counts(conn: Conn, table: str = TABLE) -> dict[str, int]:
    """Rows per status, with every status present (0 when none)."""
    found = await sql.status_summary(conn, table)
    return {s: found.get(s, 0) for s in ("PENDING", "DONE", "IGNORED", "ERROR")}
