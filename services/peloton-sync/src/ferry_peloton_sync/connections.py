"""The `peloton_connection` table: Peloton accounts and their tokens, encrypted with `TokenCipher`.

Tokens are decrypted only into a `Session` (in memory, for requests); every listing shows whether a
refresh token exists and when the access token expires, never the tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ferry.db import Conn
from ferry_peloton_sync.crypto import TokenCipher
from ferry_peloton_sync.errors import NoConnection
from ferry_peloton_sync.tokens import Tokens

TABLE = "peloton_sync.peloton_connection"


@dataclass(frozen=True)
class ConnectionInfo:
    """A connection as listings show it."""

    username: str
    email: str | None
    is_active: bool
    inactive_reason: str | None
    token_expires_at: datetime | None
    has_refresh_token: bool

    @property
    def label(self) -> str:
        return self.email or self.username


@dataclass
class Session:
    """One connection's decrypted tokens, for requests. Mutable: a refresh replaces them in place."""

    username: str
    email: str | None
    access_token: str
    refresh_token: str | None
    expires_at: datetime | None

    def __repr__(self) -> str:  # never show the tokens
        return f"Session(username={self.username!r}, expires_at={self.expires_at})"

    @property
    def label(self) -> str:
        return self.email or self.username


_INFO = "username, email, is_active, inactive_reason, token_expires_at, refresh_token_enc IS NOT NULL AS has_refresh"


def _info(row: object) -> ConnectionInfo:
    r = dict(row)  # type: ignore[call-overload]
    return ConnectionInfo(r["username"], r["email"], r["is_active"], r["inactive_reason"], r["token_expires_at"],
                          r["has_refresh"])


async def save(conn: Conn, cipher: TokenCipher, username: str, email: str | None, tokens: Tokens) -> ConnectionInfo:
    """Add or replace a connection (reactivating it) with these tokens."""
    refresh = cipher.encrypt(tokens.refresh_token) if tokens.refresh_token else None
    row = await conn.fetchrow(
        f"INSERT INTO {TABLE} (username, email, access_token_enc, refresh_token_enc, token_expires_at) "
        "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (username) DO UPDATE SET "
        "email = COALESCE(EXCLUDED.email, peloton_connection.email), access_token_enc = EXCLUDED.access_token_enc, "
        "refresh_token_enc = EXCLUDED.refresh_token_enc, token_expires_at = EXCLUDED.token_expires_at, "
        "is_active = true, inactive_reason = NULL, updated_at = now() "
        f"RETURNING {_INFO}",
        username, email, cipher.encrypt(tokens.access_token), refresh, tokens.expires_at,
    )
    return _info(row)


async def list_all(conn: Conn) -> list[ConnectionInfo]:
    return [_info(r) for r in await conn.fetch(f"SELECT {_INFO} FROM {TABLE} ORDER BY created_at, username")]


async def delete(conn: Conn, username: str) -> bool:
    return await conn.fetchval(f"DELETE FROM {TABLE} WHERE username = $1 RETURNING true", username) is not None


async def exists(conn: Conn, username: str) -> bool:
    return bool(await conn.fetchval(f"SELECT EXISTS (SELECT 1 FROM {TABLE} WHERE username = $1)", username))


async def load(conn: Conn, cipher: TokenCipher, username: str | None, *, lock: bool = False) -> Session:
    """The connection named `username`, else the first active one, decrypted; NoConnection when none."""
    where = "is_active" + (" AND username = $1" if username is not None else "")
    args = [username] if username is not None else []
    row = await conn.fetchrow(
        f"SELECT username, email, access_token_enc, refresh_token_enc, token_expires_at FROM {TABLE} "
        f"WHERE {where} ORDER BY created_at, username LIMIT 1" + (" FOR UPDATE" if lock else ""), *args,
    )
    if row is None:
        if username is None:
            raise NoConnection("No active Peloton connection found: add one with "
                               "`ferry peloton-sync connect --username NAME`")
        raise NoConnection(f"No active Peloton connection found for username {username!r} "
                           "(see `ferry peloton-sync connections list`)")
    what = f"the tokens of {row['username']}"
    refresh = row["refresh_token_enc"]
    return Session(row["username"], row["email"], cipher.decrypt(row["access_token_enc"], what=what),
                   cipher.decrypt(refresh, what=what) if refresh else None, row["token_expires_at"])


async def store_refreshed(conn: Conn, cipher: TokenCipher, username: str, tokens: Tokens) -> None:
    await conn.execute(
        f"UPDATE {TABLE} SET access_token_enc = $2, refresh_token_enc = COALESCE($3, refresh_token_enc), "
        "token_expires_at = $4, last_refreshed_at = now(), updated_at = now() WHERE username = $1",
        username, cipher.encrypt(tokens.access_token),
        cipher.encrypt(tokens.refresh_token) if tokens.refresh_token else None, tokens.expires_at,
    )


async def deactivate(conn: Conn, username: str, reason: str) -> None:
    await conn.execute(
        f"UPDATE {TABLE} SET is_active = false, inactive_reason = $2, updated_at = now() WHERE username = $1",
        username, reason[:500],
    )


async def check_key(conn: Conn, cipher: TokenCipher) -> None:
    """Fail (TokenKeyError) unless the key decrypts the stored tokens: a wrong key stops the start-up."""
    row = await conn.fetchrow(f"SELECT username, access_token_enc FROM {TABLE} ORDER BY updated_at DESC LIMIT 1")
    if row is not None:
        cipher.decrypt(row["access_token_enc"], what=f"the tokens of {row['username']}")
