"""What peloton-sync raises (on top of the job runtime's `ferry.jobs.errors`).

    PelotonError              base of them all
     ├── TokenKeyError        FERRY_PELOTON_TOKEN_KEY missing, malformed, or not the key the tokens were stored with
     ├── NoConnection         "No active Peloton connection found"
     ├── AuthFailed           "Failed to get authenticated Peloton client" (refresh refused, 401 after refresh)
     ├── PelotonUnavailable   5xx, timeouts or connection errors after every retry
     ├── PelotonHTTPError     any other error answer (404 for a ride, 400...)
     └── RateLimitWaitTooLong the fleet's bucket (or a 429 pause) asks for a longer wait than a step may sleep

No message carries a token: they name the connection by its leaderboard username.
"""

from __future__ import annotations


class PelotonError(Exception):
    """Base of peloton-sync's failures."""


class TokenKeyError(PelotonError):
    """The token encryption key cannot be used."""


class NoConnection(PelotonError):
    """No active connection (or none of that username)."""


class AuthFailed(PelotonError):
    """The connection cannot be authenticated."""


class PelotonUnavailable(PelotonError):
    """Peloton kept failing (5xx, timeouts, connection errors)."""


class PelotonHTTPError(PelotonError):
    def __init__(self, status: int, path: str, message: str) -> None:
        super().__init__(f"Peloton answered {status} for {path}: {message}")
        self.status, self.path = status, path


class RateLimitWaitTooLong(PelotonError):
    def __init__(self, key: str, wait_s: float) -> None:
        super().__init__(f"rate limit on {key}: {wait_s:.1f} s to wait")
        self.key, self.wait_s = key, wait_s
