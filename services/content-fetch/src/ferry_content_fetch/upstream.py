"""One throttled GET: the rate limiter's bucket first, then the request; transport errors become SourceFailed."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx

from ferry.contracts.ratelimit import UpstreamFeedback
from ferry.ratelimit import Limiter
from ferry_content_fetch.errors import RateLimited, SourceFailed


async def get(
    http: httpx.AsyncClient, limiter: Limiter, key: str, rate: float, url: str, *,
    params: dict[str, str] | None = None, headers: dict[str, str] | None = None,
) -> httpx.Response:
    """GET `url` once the bucket `key` allows (at `rate` per second unless the settings configure the key)."""
    await limiter.acquire(key, rate=rate, burst=1)
    host = urlsplit(url).netloc
    try:
        return await http.get(url, params=params, headers=headers)
    except httpx.TimeoutException as exc:
        raise SourceFailed(f"no answer from {host} in time ({type(exc).__name__})") from exc
    except httpx.HTTPError as exc:
        raise SourceFailed(f"cannot reach {host}: {type(exc).__name__}: {exc}") from exc


async def rate_limited(limiter: Limiter, key: str, response: httpx.Response, default_s: float) -> RateLimited:
    """Tell the limiter the upstream refused (pausing the bucket for the fleet); the exception to raise."""
    after = _retry_after(response.headers.get("retry-after")) or default_s
    await limiter.feedback(UpstreamFeedback(key=key, status=429, retry_after_s=after, secondary=True))
    host = urlsplit(str(response.url)).netloc
    return RateLimited(after, f"{host} answered {response.status_code}: too many requests")


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None
