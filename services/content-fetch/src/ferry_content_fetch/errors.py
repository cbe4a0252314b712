"""What fetching a source can raise (the handler turns them into the source's error, or a park).

    SourceFailed   this source gave nothing usable this time (the reason is its `error`); others carry on
    RateLimited    the upstream said "too many requests": park the step for `seconds`, then fetch again
"""

from __future__ import annotations


class SourceFailed(Exception):
    """The source failed; the message says why, in words a user can act on."""


class RateLimited(Exception):
    """The upstream refused the call for now."""

    def __init__(self, seconds: float, reason: str) -> None:
        super().__init__(reason)
        self.seconds = seconds
        self.reason = reason
