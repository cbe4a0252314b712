"""What the rate-limit clients raise.

    RateLimitError          base of them all
    ├── WaitTooLong         the wait exceeds the caller's `max_wait_s` (raise instead of sleeping for hours)
    └── LimiterClosed       the client was closed while a call was waiting on it
"""

from __future__ import annotations


class RateLimitError(Exception):
    """Base of the rate-limit clients' errors."""


class WaitTooLong(RateLimitError):
    """The limiter asks for a longer wait than the caller accepts."""

    def __init__(self, key: str, wait_s: float, max_wait_s: float, paused_until: float | None) -> None:
        self.key, self.wait_s, self.max_wait_s, self.paused_until = key, wait_s, max_wait_s, paused_until
        why = " (the key is paused by its upstream)" if paused_until is not None else ""
        super().__init__(f"rate limit on {key} asks to wait {wait_s:.1f} s, more than the {max_wait_s:g} s allowed"
                         + why)


class LimiterClosed(RateLimitError):
    """The client was closed while a call was waiting for the limiter."""
