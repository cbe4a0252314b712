"""`PelotonClient`: GET Peloton's API through the fleet's rate limiter.

Before each request: the job's own bucket `job:<job_id>` (its --delay: one call per `delay` seconds),
then the account's `peloton:<username>`. Headers as Peloton's web client sends them
(`Authorization: Bearer`, `Peloton-Platform: web`). A 401 refreshes the session once and retries; a
second 401 is `AuthFailed`. A 429 is reported to the limiter, which pauses `peloton:<username>` for
the whole fleet for its Retry-After, and waited out here too. 5xx, timeouts and connection errors
are retried with exponential backoff (tenacity). A wait beyond `max_wait_s` raises
`RateLimitWaitTooLong`, so a step parks instead of holding a worker.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import structlog
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter

from ferry.contracts.ratelimit import UpstreamFeedback
from ferry.ratelimit import Limiter, WaitTooLong
from ferry_peloton_sync.auth import FAILED, Authenticator
from ferry_peloton_sync.connections import Session
from ferry_peloton_sync.errors import AuthFailed, PelotonHTTPError, PelotonUnavailable, RateLimitWaitTooLong

log = structlog.get_logger("ferry.peloton")
DEFAULT_429_WAIT_S = 60.0
"""How long a 429 without Retry-After pauses (as the rate limiter pauses such answers)."""


@dataclass(frozen=True)
class Pace:
    """A job's --delay as a bucket: `job:<job_id>`, one call per `delay` seconds."""

    key: str
    delay: float


class _Transient(Exception):
    pass


def user_key(username: str) -> str:
    return f"peloton:{username}"


def _retry_after(response: httpx.Response) -> float | None:
    try:
        value = float(response.headers.get("retry-after", ""))
    except ValueError:
        return None
    return max(0.0, value)


class PelotonClient:
    """One per process; safe to share between tasks."""

    def __init__(
        self, http: httpx.AsyncClient, limiter: Limiter, auth: Authenticator, *, max_wait_s: float = 120.0,
        retries: int = 4, retry_initial_s: float = 1.0, retry_max_s: float = 30.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.http, self.limiter, self.auth = http, limiter, auth
        self.max_wait_s, self.retries = max_wait_s, retries
        self.retry_initial_s, self.retry_max_s = retry_initial_s, retry_max_s
        self.sleep = sleep
        self.requests = 0

    async def archived(self, session: Session, discipline: str, page: int, limit: int, pace: Pace | None) -> Any:
        """One page of the archived list (newest first; no date filters: Peloton ignores them)."""
        params = {"browse_category": discipline, "content_format": "audio,video", "page": page, "limit": limit,
                  "sort_by": "original_air_time", "desc": "true"}
        return await self.get(session, "/api/v2/ride/archived", params, pace)

    async def details(self, session: Session, ride_id: str, pace: Pace | None) -> Any:
        return await self.get(session, f"/api/ride/{ride_id}/details", None, pace)

    async def get(self, session: Session, path: str, params: Mapping[str, Any] | None, pace: Pace | None) -> Any:
        refreshed = False
        waited = 0.0
        while True:
            response, waited = await self._send_retrying(session, path, params, pace, waited)
            if response.status_code == 401:
                if refreshed:
                    raise AuthFailed(f"{FAILED} for {session.username}: Peloton refused its freshly refreshed token")
                await self.auth.refresh(session, why="Peloton answered 401")
                refreshed = True
                continue
            if response.status_code == 429:
                wait = _retry_after(response)
                await self.limiter.feedback(UpstreamFeedback(
                    key=user_key(session.username), status=429, retry_after_s=wait, secondary=True))
                wait = DEFAULT_429_WAIT_S if wait is None else wait
                log.warning("peloton rate limited", key=user_key(session.username), wait_s=wait)
                if waited + wait > self.max_wait_s:
                    raise RateLimitWaitTooLong(user_key(session.username), wait)
                await self.sleep(wait)
                waited += wait
                continue
            if response.status_code >= 400:
                raise PelotonHTTPError(response.status_code, path, _message(response))
            try:
                return response.json()
            except ValueError:
                raise PelotonHTTPError(response.status_code, path, "the answer is not JSON") from None

    async def _acquire(self, key: str, waited: float, rate: float | None = None) -> float:
        try:
            return await self.limiter.acquire(key, rate=rate, burst=1 if rate else None,
                                              max_wait_s=max(0.0, self.max_wait_s - waited))
        except WaitTooLong as exc:
            raise RateLimitWaitTooLong(key, exc.wait_s) from None

    async def _send_retrying(
        self, session: Session, path: str, params: Mapping[str, Any] | None, pace: Pace | None, waited: float
    ) -> tuple[httpx.Response, float]:
        first = self.retry_initial_s
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(_Transient), stop=stop_after_attempt(self.retries + 1),
            wait=wait_exponential_jitter(multiplier=first, max=self.retry_max_s, jitter=first),
            sleep=self.sleep, reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    if pace is not None and pace.delay > 0:
                        waited += await self._acquire(pace.key, waited, rate=1.0 / pace.delay)
                    waited += await self._acquire(user_key(session.username), waited)
                    return await self._send(session, path, params), waited
        except _Transient as exc:
            raise PelotonUnavailable(f"Peloton kept failing for {path} after {self.retries + 1} attempts: "
                                     f"{exc}") from None
        raise AssertionError("unreachable")  # pragma: no cover

    async def _send(self, session: Session, path: str, params: Mapping[str, Any] | None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {session.access_token}", "Peloton-Platform": "web",
                   "Accept": "application/json", "User-Agent": "ferry-peloton-sync"}
        self.requests += 1
        try:
            response = await self.http.get(path.lstrip("/"), params=dict(params or {}), headers=headers)
        except httpx.TimeoutException as exc:
            log.warning("peloton request timed out, retrying", path=path)
            raise _Transient(f"timeout ({type(exc).__name__})") from None
        except httpx.TransportError as exc:
            log.warning("peloton connection error, retrying", path=path)
            raise _Transient(f"connection error ({type(exc).__name__})") from None
        if response.status_code >= 500:
            log.warning("peloton server error, retrying", path=path, status=response.status_code)
            raise _Transient(f"server error {response.status_code}")
        return response


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase
    if isinstance(body, dict) and body.get("message"):
        return str(body["message"])[:300]
    return response.reason_phrase
