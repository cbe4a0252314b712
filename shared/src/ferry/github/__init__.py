"""The shared GitHub REST client: token pool by account, fleet-wide rate limiting, GitHub's rules.

    pool = TokenPool(settings.github_tokens)
    async with httpx.AsyncClient(base_url=settings.github_api_url, timeout=30) as http:
        client = GitHubClient(http, pool, limiter, max_wait_s=5, max_upstream_wait_s=settings.upstream_max_wait_s)
        github = AnyAccount(client)  # each call with whichever account can call soonest
        async for pull in github.paginate("/repos/posthog/posthog/pulls", {"state": "all"}):
            ...
        files = await github.get_all("/repos/posthog/posthog/pulls/1/files", cache=False)

`GitHubClient` sends one request by GitHub's rules (rate limits, retries, the ETag cache);
`AnyAccount` (`ferry.github.accounts`) spreads requests and listings over the pool's accounts,
skipping rate-limited and exhausted ones. A service uses `AnyAccount` unless a call must go with
one particular account (`GitHubClient.get(..., account=login)`). The GitHub facts behind the
design are in docs/github.md.

A token pool only adds capacity across distinct accounts or GitHub Apps the operator is entitled
to use: GitHub's terms forbid sharing tokens to exceed its rate limits (see `ferry.github.tokens`).
"""

from ferry.github.accounts import AnyAccount, Listing
from ferry.github.cache import CachedAnswer, EtagCache
from ferry.github.client import GitHubClient
from ferry.github.errors import (
    BadCredentials,
    Forbidden,
    GitHubError,
    GitHubHTTPError,
    GitHubUnavailable,
    NotFound,
    NoUsableTokens,
    RateLimitWaitTooLong,
    UnsafeURL,
    ValidationFailed,
)
from ferry.github.ratelimits import RateLimitInfo, Verdict, WaitPolicy
from ferry.github.response import GitHubResponse
from ferry.github.tokens import Token, TokenPool, TokenRemoved

__all__ = [
    "AnyAccount",
    "BadCredentials",
    "CachedAnswer",
    "EtagCache",
    "Forbidden",
    "GitHubClient",
    "GitHubError",
    "GitHubHTTPError",
    "GitHubResponse",
    "GitHubUnavailable",
    "Listing",
    "NoUsableTokens",
    "NotFound",
    "RateLimitInfo",
    "RateLimitWaitTooLong",
    "Token",
    "TokenPool",
    "TokenRemoved",
    "UnsafeURL",
    "ValidationFailed",
    "Verdict",
    "WaitPolicy",
]
