"""peloton-sync's connections to the outside: the HTTP client, the fleet's rate limiter, the token
cipher and the `Authenticator`, built once (on first use, inside the running loop) and closed at
shutdown. The cipher is checked at start-up (`check_startup`): a missing or wrong key stops the
service with the reason before it takes any work."""

from __future__ import annotations

import asyncio
import json
import os
import socket
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import asyncpg
import httpx
import structlog

from ferry.ratelimit import AmqpLimiter, Limiter
from ferry_peloton_sync import SERVICE, connections
from ferry_peloton_sync.auth import Authenticator
from ferry_peloton_sync.client import PelotonClient
from ferry_peloton_sync.crypto import TokenCipher
from ferry_peloton_sync.errors import TokenKeyError
from ferry_peloton_sync.settings import PelotonSettings
from ferry_peloton_sync.tokens import tokens_from_answer

log = structlog.get_logger("ferry.peloton")
LimiterFactory = Callable[[PelotonSettings], Awaitable[Limiter]]


async def amqp_limiter(settings: PelotonSettings) -> Limiter:
    """The fleet-wide limiter (the rate-limiter service, over RabbitMQ)."""
    client = f"{SERVICE}@{socket.gethostname()}:{os.getpid()}"
    return await AmqpLimiter.connect(settings.amqp_url.get_secret_value(), client=client,
                                     timeout_s=settings.peloton_limiter_timeout_s)


async def check_startup(conn: asyncpg.Connection, settings: PelotonSettings) -> None:
    """Refuse to start without a usable key; store FERRY_PELOTON_SEED_CONNECTION if it is missing."""
    cipher = TokenCipher.from_settings(settings)
    await connections.check_key(conn, cipher)
    if settings.peloton_seed_connection is None:
        return
    try:
        seed = json.loads(settings.peloton_seed_connection.get_secret_value())
        username = str(seed["username"])
        tokens = tokens_from_answer(seed, now=datetime.now(UTC))
    except (ValueError, KeyError, TypeError):
        raise TokenKeyError("FERRY_PELOTON_SEED_CONNECTION must be JSON with username, access_token and "
                            "refresh_token") from None
    if not await connections.exists(conn, username):
        await connections.save(conn, cipher, username, seed.get("email"), tokens)
        log.info("peloton connection stored from FERRY_PELOTON_SEED_CONNECTION", username=username)


class Resources:
    """Builds the client once; `aclose()` releases what was built."""

    def __init__(self, settings: PelotonSettings, pool: asyncpg.Pool, limiter: LimiterFactory = amqp_limiter, *,
                 close_limiter: bool = True) -> None:
        self.settings, self.pool, self.limiter_factory = settings, pool, limiter
        self.close_limiter = close_limiter  # False when the lifespan's limiter is closed by its owner
        self._lock = asyncio.Lock()
        self._client: PelotonClient | None = None
        self._http: httpx.AsyncClient | None = None
        self._limiter: Limiter | None = None

    async def client(self) -> PelotonClient:
        if self._client is None:
            async with self._lock:
                if self._client is None:
                    self._client = await self._build()
        return self._client

    async def _build(self) -> PelotonClient:
        s = self.settings
        cipher = TokenCipher.from_settings(s)
        limiter = self._limiter = await self.limiter_factory(s)
        http = self._http = httpx.AsyncClient(base_url=s.peloton_api_url, timeout=30)
        auth = Authenticator(self.pool, cipher, http, auth_url=s.peloton_auth_url, client_id=s.peloton_client_id,
                             margin_s=s.peloton_refresh_margin_s)
        return PelotonClient(http, limiter, auth, max_wait_s=s.peloton_max_inline_wait_s, retries=s.peloton_retries,
                             retry_initial_s=s.peloton_retry_initial_s)

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
        close = getattr(self._limiter, "close", None) if self.close_limiter else None
        if close is not None:
            await close()
        self._client = self._http = self._limiter = None
