"""asset-sync's connections to the outside, made on first use and closed at shutdown: the HTTP client
on FERRY_GITHUB_API_URL, the fleet's rate limiter (`AmqpLimiter`), the GitHub clients (pool and
owners) and a pool connection for the PENDING marks that must show before a step commits."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Awaitable, Callable

import httpx

from ferry.ratelimit import AmqpLimiter, Limiter
from ferry_asset_sync import SERVICE
from ferry_asset_sync.github import GitHubAccess
from ferry_asset_sync.settings import AssetSyncSettings

LimiterFactory = Callable[[AssetSyncSettings], Awaitable[Limiter]]


async def amqp_limiter(settings: AssetSyncSettings) -> Limiter:
    """The fleet-wide limiter (the rate-limiter service, over RabbitMQ)."""
    client = f"{SERVICE}@{socket.gethostname()}:{os.getpid()}"
    return await AmqpLimiter.connect(settings.amqp_url.get_secret_value(), client=client,
                                     timeout_s=settings.asset_sync_limiter_timeout_s)


class Resources:
    """Builds the limiter and the GitHub access once (they need the running loop); `aclose()` ends them."""

    def __init__(self, settings: AssetSyncSettings, limiter: LimiterFactory = amqp_limiter) -> None:
        self.settings = settings
        self.limiter_factory = limiter
        self._lock = asyncio.Lock()
        self._limiter: Limiter | None = None
        self._http: httpx.AsyncClient | None = None
        self._access: GitHubAccess | None = None

    async def limiter(self) -> Limiter:
        await self._build()
        assert self._limiter is not None
        return self._limiter

    async def access(self) -> GitHubAccess:
        await self._build()
        assert self._access is not None
        return self._access

    async def _build(self) -> None:
        if self._access is not None:
            return
        async with self._lock:
            if self._access is not None:
                return
            self._limiter = await self.limiter_factory(self.settings)
            self._http = httpx.AsyncClient(base_url=self.settings.github_api_url, timeout=30)
            self._access = GitHubAccess(
                self._http, self._limiter, list(self.settings.github_tokens),
                dict(self.settings.asset_sync_owner_tokens), max_wait_s=self.settings.asset_sync_max_inline_wait_s,
                max_upstream_wait_s=self.settings.upstream_max_wait_s,
            )

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
        close = getattr(self._limiter, "close", None)
        if close is not None:
            await close()
        self._access = self._http = self._limiter = None
