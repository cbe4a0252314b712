"""`GitHubClient`: GET GitHub's REST API through the fleet's rate limiter, by GitHub's rules.

Every request: pick a token of the account that can call soonest, `limiter.acquire("github:<login>")`,
send (with `If-None-Match` when an ETag is cached), then `limiter.feedback(...)` with the answer's
rate-limit headers. Rate limits are waited out as GitHub documents (`Retry-After` first; remaining 0
until the reset; secondary limits at least `min_secondary_wait_s`, doubling) or, when another account
of the pool can call now, the call moves to it. A wait beyond `max_wait_s` raises
`RateLimitWaitTooLong` instead. 5xx, timeouts and connection errors are retried with exponential
backoff (tenacity); 404 and 422 are raised at once. A 304 is answered from the cache (free on GitHub).

No wait an answer asks for (`Retry-After`, `x-ratelimit-reset`) counts beyond `max_upstream_wait_s`
(one hour unless given): a longer one is logged ("github wait capped") and waited, or raised, as the
cap. Answers with an ETag are kept for conditional requests in a cache bounded by bytes
(`cache_bytes`); `get(..., cache=False)` neither keeps nor revalidates (what a crawl fetches once).

The one request not preceded by `acquire` is the single GET /user per token that tells which account
(hence which limiter key) the token belongs to.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import httpx
import structlog
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter

from ferry.github.cache import DEFAULT_MAX_BYTES, CachedAnswer, EtagCache
from ferry.github.errors import (
    GitHubUnavailable,
    RateLimitWaitTooLong,
    UnsafeURL,
)
from ferry.github.pagination import PER_PAGE, parse_link
from ferry.github.ratelimits import (
    DEFAULT_MAX_UPSTREAM_WAIT_S,
    RateLimitInfo,
    Verdict,
    WaitPolicy,
    classify,
    error_message,
    exhausted_until,
    feedback,
    parse_headers,
    wait_seconds,
)
from ferry.github.response import GitHubResponse, http_error, json_or_none
from ferry.github.tokens import Token, TokenPool
from ferry.ratelimit import Limiter, WaitTooLong

log = structlog.get_logger("ferry.github")
API_VERSION = "2022-11-28"
_CACHED_HEADERS = ("content-type", "link", "etag", "last-modified")


class _Transient(Exception):
    def __init__(self, why: str) -> None:
        super().__init__(why)


class GitHubClient:
    """The shared GitHub client; one per process, safe to use from many tasks at once."""

    def __init__(
        self, http: httpx.AsyncClient, tokens: TokenPool, limiter: Limiter, *, base_url: str | None = None,
        max_wait_s: float = 900.0, min_secondary_wait_s: float = 60.0, max_secondary_wait_s: float = 900.0,
        reset_margin_s: float = 1.0, retries: int = 4, retry_initial_s: float = 1.0, retry_max_s: float = 30.0,
        cache_bytes: int = DEFAULT_MAX_BYTES, max_upstream_wait_s: float = DEFAULT_MAX_UPSTREAM_WAIT_S,
        user_agent: str = "ferry", clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.http, self.tokens, self.limiter = http, tokens, limiter
        given = base_url or (str(http.base_url) if str(http.base_url) else "https://api.github.com")
        self.base = httpx.URL(given.rstrip("/") + "/")
        self.max_wait_s = max_wait_s
        self.policy = WaitPolicy(min_secondary_wait_s, max_secondary_wait_s, reset_margin_s, max_upstream_wait_s)
        self.retries, self.retry_initial_s, self.retry_max_s = retries, retry_initial_s, retry_max_s
        self.user_agent, self.clock, self.sleep = user_agent, clock, sleep
        self.cache = EtagCache(cache_bytes)
        self._resolving = asyncio.Lock()

    # -- public -------------------------------------------------------------------------------------

    async def accounts(self) -> list[str]:
        """The pool's accounts (asks each unresolved token's login once)."""
        await self._resolve()
        return sorted(self.tokens.accounts())

    async def get(self, path: str, params: Mapping[str, Any] | None = None, *, accept: str | None = None,
                  account: str | None = None, cache: bool = True, known: CachedAnswer | None = None,
                  max_limited_wait_s: float | None = None) -> GitHubResponse:
        """GET a path (or an absolute URL on the API, e.g. from a Link header); raises GitHubError.

        `cache=False` for an answer nobody will ask for again: it is neither kept nor revalidated.
        `known`: content the caller kept with its ETag (in a database, say): sent as `If-None-Match`,
        and returned (`from_cache`) when GitHub answers 304. `max_limited_wait_s`: the longest this call
        sits out a rate limit GitHub answered (a 403 or 429) before raising `RateLimitWaitTooLong`
        (`AnyAccount` moves such a call to another account); the limiter's own waits keep `max_wait_s`."""
        url = self._url(path, params)
        media = accept or "application/vnd.github+json"
        waited = 0.0
        while True:
            await self._resolve()
            token = self.tokens.choose(account)
            waited += await self._wait_block(token.key, waited, max_limited_wait_s)
            revalidate = known if known is not None else (self.cache.get((str(url), media)) if cache else None)
            response, waited = await self._send_retrying(token, url, media, waited, revalidate=revalidate)
            info = self._read_limits(token.key, response)
            body = json_or_none(response)
            verdict = classify(response.status_code, info, error_message(body))
            report = feedback(token.key, response.status_code, info, verdict)
            if report is not None:
                await self.limiter.feedback(report)
            if response.status_code == 401:
                self.tokens.remove(token, "401 Bad credentials")
                continue
            if verdict is not Verdict.OK:
                self._rate_limited(token, verdict, info, response.status_code)
                continue
            self.tokens.clear_strikes(token.key)
            until = exhausted_until(info, now=self.clock(), policy=self.policy)
            if until is not None:
                self.tokens.block(token.key, until, "quota used up (x-ratelimit-remaining: 0)")
            return self._result(token, url, media, response, info, body, revalidate=revalidate, cache=cache)

    async def paginate(self, path: str, params: Mapping[str, Any] | None = None, *, accept: str | None = None,
                       account: str | None = None, cache: bool = True) -> AsyncIterator[Any]:
        """Every item of a listing, following `Link: rel="next"` (per_page=100 unless given)."""
        page = await self.get(path, {"per_page": PER_PAGE, **(params or {})}, accept=accept, account=account,
                              cache=cache)
        while True:
            body = page.json()
            items = body.get("items", []) if isinstance(body, dict) else body
            for item in items:
                yield item
            following = page.links.get("next")
            if not following:
                return
            page = await self.get(following, accept=accept, account=account, cache=cache)

    # -- steps --------------------------------------------------------------------------------------

    def _url(self, path: str, params: Mapping[str, Any] | None) -> httpx.URL:
        url = httpx.URL(path) if path.startswith(("http://", "https://")) else self.base.join(path.lstrip("/"))
        if (url.scheme, url.host, url.port) != (self.base.scheme, self.base.host, self.base.port) or not (
            url.path.startswith(self.base.path)
        ):
            raise UnsafeURL(f"refusing to send a GitHub token to {url.scheme}://{url.host}{url.path}")
        return url.copy_merge_params(dict(params)) if params else url

    async def _resolve(self) -> None:
        if self.tokens.resolved:
            return
        async with self._resolving:
            for token in self.tokens.unresolved():
                await self._whoami(token)
            self.tokens.check_usable()

    async def _whoami(self, token: Token) -> None:
        waited = 0.0
        while True:
            response, _ = await self._send_retrying(token, self.base.join("user"), "application/vnd.github+json", None,
                                                    revalidate=None)
            info = self._read_limits(token.label, response)
            body = json_or_none(response)
            if response.status_code == 401:
                self.tokens.remove(token, "401 Bad credentials")
                return
            if response.status_code == 200 and isinstance(body, dict) and isinstance(body.get("login"), str):
                self.tokens.assign(token, body["login"])
                until = exhausted_until(info, now=self.clock(), policy=self.policy)
                if until is not None:
                    self.tokens.block(token.key, until, "quota used up (x-ratelimit-remaining: 0)")
                report = feedback(token.key, 200, info, Verdict.OK)
                if report is not None:
                    await self.limiter.feedback(report)
                return
            verdict = classify(response.status_code, info, error_message(body))
            if verdict is Verdict.OK:
                raise http_error(response.status_code, body, "/user")
            wait = wait_seconds(verdict, info, now=self.clock(), strikes=1, policy=self.policy)
            self._check_cap(token.label, wait, waited, f"{verdict.value} rate limit while asking who it is")
            await self.sleep(wait)
            waited += wait

    def _read_limits(self, key: str, response: httpx.Response) -> RateLimitInfo:
        info = parse_headers(response.headers, self.clock(), self.policy.max_upstream_s)
        if info.capped:
            log.warning("github wait capped", key=key, status=response.status_code, asked=info.capped,
                        cap_s=self.policy.max_upstream_s)
        return info

    async def _wait_block(self, key: str, waited: float, cap: float | None = None) -> float:
        wait = self.tokens.blocked_until(key) - self.clock()
        if wait <= 0:
            return 0.0
        reason = self.tokens.blocked_reason(key)
        self._check_cap(key, wait, waited, reason, cap)
        log.info("waiting for github rate limit", key=key, wait_s=round(wait, 3), reason=reason)
        await self.sleep(wait)
        return wait

    async def _acquire(self, key: str, waited: float) -> float:
        try:
            return await self.limiter.acquire(key, max_wait_s=max(0.0, self.max_wait_s - waited))
        except WaitTooLong as exc:
            raise RateLimitWaitTooLong(key=key, wait_s=exc.wait_s, waited_s=waited, cap_s=self.max_wait_s,
                                       reason="the rate limiter holds the key") from None

    def _check_cap(self, key: str, wait: float, waited: float, reason: str, cap: float | None = None) -> None:
        limit = self.max_wait_s if cap is None else min(cap, self.max_wait_s)
        if waited + wait > limit:
            raise RateLimitWaitTooLong(key=key, wait_s=wait, waited_s=waited, cap_s=limit, reason=reason)

    def _rate_limited(self, token: Token, verdict: Verdict, info: RateLimitInfo, status: int) -> None:
        now = self.clock()
        # Requests already in flight when the first 403 came back are the same limit, not repeats.
        repeat = self.tokens.blocked_until(token.key) <= now
        strikes = self.tokens.strike(token.key, count=repeat) if verdict is Verdict.SECONDARY else 1
        wait = wait_seconds(verdict, info, now=now, strikes=strikes, policy=self.policy)
        reason = f"{verdict.value} rate limit ({status}" + (
            f", Retry-After {info.retry_after_s:g}s" if info.retry_after_s is not None else "") + (
            f"; GitHub asked for {info.capped})" if info.capped else ")")
        self.tokens.block(token.key, now + wait, reason)
        log.warning("github rate limited", key=token.key, status=status, kind=verdict.value, wait_s=round(wait, 3),
                    strikes=strikes, retry_after_s=info.retry_after_s, remaining=info.remaining)

    async def _send_retrying(
        self, token: Token, url: httpx.URL, media: str, waited: float | None, *, revalidate: CachedAnswer | None
    ) -> tuple[httpx.Response, float]:
        """Send, retrying transient failures; each attempt first acquires from the limiter (unless
        `waited` is None: the identity lookup, whose account is not known yet). Returns the answer
        and the total waited so far."""
        def before_sleep(state: RetryCallState) -> None:
            outcome = state.outcome.exception() if state.outcome else None
            log.warning("github request failed, retrying", url=str(url.copy_with(query=None)),
                        attempt=state.attempt_number, error=str(outcome))

        first = self.retry_initial_s
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(_Transient), stop=stop_after_attempt(self.retries + 1),
            wait=wait_exponential_jitter(multiplier=first, max=self.retry_max_s, jitter=first),
            sleep=self.sleep, before_sleep=before_sleep, reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    if waited is not None:
                        waited += await self._acquire(token.key, waited)
                    return await self._send(token, url, media, revalidate), waited or 0.0
        except _Transient as exc:
            attempts = self.retries + 1
            raise GitHubUnavailable(f"GitHub kept failing for {url.path} after {attempts} attempts: {exc}") from None
        raise AssertionError("unreachable")  # pragma: no cover

    async def _send(self, token: Token, url: httpx.URL, media: str, revalidate: CachedAnswer | None
                    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token.secret}", "Accept": media, "User-Agent": self.user_agent,
                   "X-GitHub-Api-Version": API_VERSION}
        if revalidate is not None:
            headers["If-None-Match"] = revalidate.etag
        try:
            response = await self.http.get(url, headers=headers)
        except httpx.TimeoutException as exc:
            raise _Transient(f"timeout ({type(exc).__name__})") from None
        except httpx.TransportError as exc:
            raise _Transient(f"connection error ({type(exc).__name__})") from None
        if response.status_code >= 500:
            raise _Transient(f"server error {response.status_code}")
        return response

    def _result(self, token: Token, url: httpx.URL, media: str, response: httpx.Response, info: RateLimitInfo,
                body: Any, *, revalidate: CachedAnswer | None, cache: bool) -> GitHubResponse:
        key = (str(url), media)
        status, login = response.status_code, token.login or "?"
        cached = revalidate if status == 304 else None
        if cached is not None:
            kept = cached.headers
            headers = httpx.Headers({**kept, **dict(response.headers)})
            return GitHubResponse(200, str(url), headers, cached.content, login, info, True,
                                  parse_link(kept.get("link")))
        if status >= 400 or status == 304:
            raise http_error(status, body, url.path)
        etag = response.headers.get("etag")
        if etag and cache:
            kept = {h: response.headers[h] for h in _CACHED_HEADERS if h in response.headers}
            self.cache.put(key, CachedAnswer(etag, response.content, kept))
        return GitHubResponse(status, str(url), response.headers, response.content, login, info, False,
                              parse_link(response.headers.get("link")))
