"""Sessions of a connection: decrypted tokens, refreshed when expired or answered 401.

A refresh (`grant_type=refresh_token`, form-encoded, to FERRY_PELOTON_AUTH_URL) happens under the
connection's row lock and is committed at once, whatever the step does next: Auth0 rotates refresh
tokens, so a refreshed pair that was rolled back would lose the connection. A worker that finds the
row already refreshed by another (its access token changed) uses that one instead of refreshing
again. A refused refresh marks the connection inactive with the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import structlog

from ferry_peloton_sync import connections
from ferry_peloton_sync.connections import Session
from ferry_peloton_sync.crypto import TokenCipher
from ferry_peloton_sync.errors import AuthFailed, NoConnection, PelotonUnavailable
from ferry_peloton_sync.tokens import tokens_from_answer

log = structlog.get_logger("ferry.peloton")
FAILED = "Failed to get authenticated Peloton client"


def _now() -> datetime:
    return datetime.now(UTC)


class Authenticator:
    """Gives sessions and refreshes them; one per process."""

    def __init__(
        self, pool: asyncpg.Pool, cipher: TokenCipher, http: httpx.AsyncClient, *, auth_url: str,
        client_id: str | None, margin_s: float = 300.0, clock: Callable[[], datetime] = _now,
    ) -> None:
        self.pool, self.cipher, self.http = pool, cipher, http
        self.auth_url, self.client_id = auth_url, client_id
        self.margin = timedelta(seconds=margin_s)
        self.clock = clock
        self.refreshes = 0

    def expired(self, session: Session) -> bool:
        return session.expires_at is not None and session.expires_at <= self.clock() + self.margin

    async def session(self, username: str | None) -> Session:
        """The named (else first active) connection, refreshed first if its token has expired."""
        async with self.pool.acquire() as conn:
            session = await connections.load(conn, self.cipher, username)
        if self.expired(session):
            await self.refresh(session, why="its access token has expired")
        return session

    async def refresh(self, session: Session, *, why: str) -> None:
        """Refresh `session` in place (or take a pair another worker just stored); AuthFailed if refused."""
        refused: str | None = None
        async with self.pool.acquire() as conn, conn.transaction():
            try:
                current = await connections.load(conn, self.cipher, session.username, lock=True)
            except NoConnection:
                raise AuthFailed(f"{FAILED}: the connection {session.username} was disconnected or deactivated "
                                 "while the job ran") from None
            if current.access_token != session.access_token and not self.expired(current):
                self._adopt(session, current)
                return
            if current.refresh_token is None:
                refused = "no refresh token is stored for it"
            elif not self.client_id:
                refused = "FERRY_PELOTON_CLIENT_ID is not set, so its token cannot be refreshed"
            else:
                answer, refused = await self._ask(current.refresh_token)
                if answer is not None:
                    tokens = tokens_from_answer(answer, now=self.clock())
                    await connections.store_refreshed(conn, self.cipher, session.username, tokens)
                    self.refreshes += 1
                    session.access_token, session.expires_at = tokens.access_token, tokens.expires_at
                    session.refresh_token = tokens.refresh_token or current.refresh_token
                    log.info("peloton connection refreshed", username=session.username, why=why)
                    return
        reason = f"token refresh failed ({why}): {refused}"
        async with self.pool.acquire() as conn:
            await connections.deactivate(conn, session.username, reason)
        log.warning("peloton connection deactivated", username=session.username, reason=reason)
        raise AuthFailed(f"{FAILED} for {session.username}: {reason}; the connection is now inactive "
                         "(connect it again with `ferry peloton-sync connect`, or use --username with another)")

    async def _ask(self, refresh_token: str) -> tuple[dict[str, Any] | None, str | None]:
        """Auth0's answer, or None and why it refused. 5xx and transport errors raise (not a refusal)."""
        form = {"grant_type": "refresh_token", "client_id": str(self.client_id), "refresh_token": refresh_token}
        try:
            response = await self.http.post(self.auth_url, data=form, headers={"Accept": "application/json"})
        except httpx.TransportError as exc:
            raise PelotonUnavailable(f"the token endpoint did not answer ({type(exc).__name__})") from None
        if response.status_code >= 500:
            raise PelotonUnavailable(f"the token endpoint answered {response.status_code}")
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code == 200 and isinstance(body, dict) and body.get("access_token"):
            return body, None
        error = body.get("error_description") or body.get("error") if isinstance(body, dict) else None
        return None, f"the token endpoint answered {response.status_code}" + (f" ({error})" if error else "")

    @staticmethod
    def _adopt(session: Session, current: Session) -> None:
        session.access_token, session.refresh_token = current.access_token, current.refresh_token
        session.expires_at = current.expires_at
