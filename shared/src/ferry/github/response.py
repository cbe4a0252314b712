"""What `GitHubClient.get` returns, and how error answers become exceptions."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import httpx

from ferry.github.errors import BadCredentials, Forbidden, GitHubHTTPError, NotFound, ValidationFailed
from ferry.github.ratelimits import RateLimitInfo, error_message


@dataclass(frozen=True)
class GitHubResponse:
    """A successful answer (from the network, or from the cache after a 304)."""

    status: int
    url: str
    headers: httpx.Headers
    content: bytes
    account: str
    rate: RateLimitInfo
    from_cache: bool = False
    links: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        return json.loads(self.content)

    @property
    def text(self) -> str:
        return self.content.decode()


def json_or_none(response: httpx.Response) -> Any:
    """The JSON body of an answer, or None when it has none."""
    if "json" not in response.headers.get("content-type", "") or not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return None


def http_error(status: int, body: Any, path: str) -> GitHubHTTPError:
    """The GitHubHTTPError subclass for an error answer."""
    message = error_message(body) or f"HTTP {status}"
    kinds: dict[int, type[GitHubHTTPError]] = {
        401: BadCredentials, 403: Forbidden, 404: NotFound, 422: ValidationFailed,
    }
    return kinds.get(status, GitHubHTTPError)(status, message, path=path, body=body)
