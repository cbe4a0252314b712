"""The shared GitHub REST client: token pool by account, fleet-wide rate limiting, GitHub's rules.

    pool = TokenPool(settings.github_tokens)
    async with httpx.AsyncClient(base_url=settings.github_api_url, timeout=30) as http:
        github = GitHubClient(http, pool, limiter)
        async for pull in github.paginate("/repos/posthog/posthog/pulls", {"state": "all"}):
            ...

A token pool only adds capacity across distinct accounts or GitHub Apps the operator is entitled
to use: GitHub's terms forbid sharing tokens to exceed its rate limits (see `ferry.github.tokens`).
"""

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
    "BadCredentials",
    "Forbidden",
    "GitHubClient",
    "GitHubError",
    "GitHubHTTPError",
    "GitHubResponse",
    "GitHubUnavailable",
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
