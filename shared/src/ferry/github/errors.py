"""What the GitHub client raises. Messages name the account (login) or token label, never a token.

    GitHubError                  base of everything below
     ├── GitHubHTTPError         an answer GitHub gave that the caller must handle (status, message)
     │    ├── BadCredentials     401: a token was refused (it has already left the pool)
     │    ├── NotFound           404 (also what GitHub says for private resources you cannot see)
     │    ├── ValidationFailed   422, with GitHub's `errors` list
     │    └── Forbidden          403 that is not a rate limit (permissions, blocked)
     ├── RateLimitWaitTooLong    honouring a rate limit would exceed the client's wait cap
     ├── NoUsableTokens          every token of the pool was refused (or none was given)
     ├── UnsafeURL               a Link/URL pointing away from the configured API (tokens never follow)
     └── GitHubUnavailable       5xx, timeouts or connection errors persisted through every retry
"""

from __future__ import annotations

from typing import Any


class GitHubError(Exception):
    """Base of the GitHub client's errors."""


class GitHubHTTPError(GitHubError):
    """GitHub answered with an error status the client does not retry."""

    def __init__(self, status: int, message: str, *, path: str, body: Any = None) -> None:
        super().__init__(f"GitHub answered {status} for {path}: {message}")
        self.status = status
        self.message = message
        self.path = path
        self.body = body


class BadCredentials(GitHubHTTPError):
    """401 Bad credentials."""


class NotFound(GitHubHTTPError):
    """404 Not Found."""


class ValidationFailed(GitHubHTTPError):
    """422 Validation Failed; `errors` is GitHub's list of what was wrong."""

    @property
    def errors(self) -> list[Any]:
        found = self.body.get("errors") if isinstance(self.body, dict) else None
        return list(found) if isinstance(found, list) else []


class Forbidden(GitHubHTTPError):
    """403 that is not a rate limit."""


class RateLimitWaitTooLong(GitHubError):
    """Waiting out a rate limit would take longer than the client's cap allows."""

    def __init__(self, *, key: str, wait_s: float, waited_s: float, cap_s: float, reason: str) -> None:
        super().__init__(
            f"GitHub rate limit on {key} ({reason}): it would need another {wait_s:.0f}s of waiting after "
            f"{waited_s:.0f}s already, beyond the cap of {cap_s:.0f}s; try again later or add a token of "
            "another account you are entitled to use"
        )
        self.key = key
        self.wait_s = wait_s
        self.waited_s = waited_s
        self.cap_s = cap_s
        self.reason = reason


class NoUsableTokens(GitHubError):
    """The pool has no token left that GitHub accepts."""


class UnsafeURL(GitHubError):
    """A URL outside the configured GitHub API: the client will not send a token there."""


class GitHubUnavailable(GitHubError):
    """GitHub kept failing (5xx, timeout, connection error) through every retry."""
