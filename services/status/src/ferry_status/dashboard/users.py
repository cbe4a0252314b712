"""Dashboard users: argon2-hashed passwords in Postgres, roles, and rate-limited logins."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import asyncpg
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from ferry.db import connect, ensure_database
from ferry_status import store
from ferry_status.store import SCHEMA, Executor

USERS = f'"{SCHEMA}".dashboard_users'
FAILURES = f'"{SCHEMA}".dashboard_login_failures'
NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
MIN_PASSWORD = 8
FAILURE_WINDOW_S = 600
MAX_FAILURES_PER_NAME = 5
MAX_FAILURES_PER_CLIENT = 20
_hasher = PasswordHasher()
# Verifying against this when the user does not exist takes as long as a real check, so the time
# a failed login takes does not tell whether the name exists.
_DUMMY_HASH = _hasher.hash("no such user: constant-time placeholder")


class Role(StrEnum):
    """What a dashboard user may do."""

    STAFF = "staff"
    """Sees everything; starts, cancels, re-runs and marks jobs; handles dead letters."""
    VIEWER = "viewer"
    """Sees everything; can start or change nothing."""
    NONE = "none"
    """May log in, and is refused (403) everywhere: access not granted yet."""


class BadUser(ValueError):
    """A user name or password that cannot be stored (the message says why)."""


class TooManyFailures(Exception):
    """Too many failed logins for this name or client recently."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"too many failed logins; try again in {max(1, retry_after_s // 60)} minute(s)")
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class User:
    name: str
    role: Role
    created_at: datetime


def check_new(name: str, password: str) -> None:
    if not NAME.match(name):
        raise BadUser(f"user name {name!r} is not allowed: 1-64 letters, digits, or _ . @ -")
    if len(password) < MIN_PASSWORD:
        raise BadUser(f"the password is too short: at least {MIN_PASSWORD} characters")


async def add_user(conn: Executor, name: str, password: str, role: Role, *, replace: bool = False) -> bool:
    """Store a user (hashing the password); with `replace`, an existing user's password and role
    change. Returns whether the user is new. BadUser if the name or password is refused, or the
    user exists and `replace` is false."""
    check_new(name, password)
    hashed = _hasher.hash(password)
    if replace:
        inserted = await conn.fetchval(
            f"INSERT INTO {USERS} (name, password_hash, role) VALUES ($1, $2, $3) ON CONFLICT (name) DO UPDATE"
            " SET password_hash = EXCLUDED.password_hash, role = EXCLUDED.role RETURNING (xmax = 0)",
            name, hashed, role.value,
        )
        return bool(inserted)
    done = await conn.fetchval(
        f"INSERT INTO {USERS} (name, password_hash, role) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING"
        " RETURNING 1", name, hashed, role.value,
    )
    if done is None:
        raise BadUser(f"user {name!r} already exists (use --replace to change the password and role)")
    return True


async def remove_user(conn: Executor, name: str) -> bool:
    return (await conn.execute(f"DELETE FROM {USERS} WHERE name = $1", name)) != "DELETE 0"


async def list_users(conn: Executor) -> list[User]:
    rows = await conn.fetch(f"SELECT name, role, created_at FROM {USERS} ORDER BY name")
    return [User(r["name"], Role(r["role"]), r["created_at"]) for r in rows]


async def get_user(conn: Executor, name: str) -> User | None:
    row = await conn.fetchrow(f"SELECT name, role, created_at FROM {USERS} WHERE name = $1", name)
    return None if row is None else User(row["name"], Role(row["role"]), row["created_at"])


async def authenticate(conn: Executor, name: str, password: str, client: str) -> User | None:
    """The user, when the password is right; None when not (the failure is recorded).
    TooManyFailures, without checking the password, after too many recent failures."""
    recent = await conn.fetchrow(
        f"SELECT count(*) FILTER (WHERE name = $1) AS by_name, count(*) FILTER (WHERE client = $2) AS by_client,"
        f" min(at) AS oldest FROM {FAILURES}"
        f" WHERE (name = $1 OR client = $2) AND at > now() - make_interval(secs => $3)",
        name, client, float(FAILURE_WINDOW_S),
    )
    assert recent is not None
    if recent["by_name"] >= MAX_FAILURES_PER_NAME or recent["by_client"] >= MAX_FAILURES_PER_CLIENT:
        raise TooManyFailures(FAILURE_WINDOW_S)
    row = await conn.fetchrow(f"SELECT name, role, created_at, password_hash FROM {USERS} WHERE name = $1", name)
    try:
        _hasher.verify(row["password_hash"] if row else _DUMMY_HASH, password)
        ok = row is not None
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok or row is None:
        await conn.execute(f"INSERT INTO {FAILURES} (name, client) VALUES ($1, $2)", name, client)
        return None
    await conn.execute(f"DELETE FROM {FAILURES} WHERE name = $1 OR at < now() - interval '1 day'", name)
    return User(row["name"], Role(row["role"]), row["created_at"])


async def open_store(dsn: str) -> asyncpg.Connection:
    """A connection to the status schema, created and migrated if needed (for `ferry users`)."""
    await ensure_database(dsn)
    conn = await connect(dsn)
    try:
        await store.apply_migrations(conn)
    except BaseException:
        await conn.close()
        raise
    return conn
