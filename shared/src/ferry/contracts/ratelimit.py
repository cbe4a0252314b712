"""Messages between workers and the rate limiter (docs/messages.md).

A worker sends an `AcquireRequest` to the limiter's queue with `reply_to` and a correlation id,
and gets an `AcquireReply`: how long to wait before its call. The tokens are reserved when the
limiter answers, so callers are served first come, first served. After each upstream answer the
worker publishes an `UpstreamFeedback` (persistent) with what the upstream said about its limits.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ferry.contracts.base import Contract


class AcquireRequest(Contract):
    """Ask for `tokens` calls on `key`; `tokens=0` only asks whether the key is paused."""

    v: Literal[1] = Field(1, description="Message version.")
    key: str = Field(
        min_length=1, max_length=300,
        description="The bucket: `github:<account>`, `peloton:<username>`, `http:<host>`, `job:<job_id>`.",
    )
    tokens: int = Field(1, ge=0, le=10_000, description="Calls to reserve; 0 reserves nothing (a pause check).")
    rate: float | None = Field(
        None, gt=0,
        description="Calls per second for a key the settings do not configure (e.g. `job:<id>`); else ignored.",
    )
    burst: int | None = Field(
        None, ge=1, description="Bucket size for a key the settings do not configure; else ignored."
    )
    client: str = Field(max_length=200, description="Who asks (service and replica), for logs and metrics.")


class AcquireReply(Contract):
    """The limiter's answer: sleep `wait_s`, then make the call (the reservation is already taken)."""

    v: Literal[1] = Field(1, description="Message version.")
    key: str = Field(description="The bucket the tokens were reserved on.")
    wait_s: float = Field(ge=0, description="Seconds to wait before the call; 0 means go now.")
    paused_until: float | None = Field(
        None, description="Epoch seconds until which the key is paused by an upstream answer, if it is."
    )
    due_at: float | None = Field(
        None, description="Epoch seconds on the limiter's clock when the reservation falls due (its now + wait_s)."
    )


class UpstreamFeedback(Contract):
    """What an upstream answer said about its rate limits, reported back to the limiter."""

    v: Literal[1] = Field(1, description="Message version.")
    key: str = Field(min_length=1, max_length=300, description="The bucket the call was made on.")
    status: int = Field(ge=100, le=599, description="The HTTP status of the answer.")
    limit: int | None = Field(None, ge=0, description="`x-ratelimit-limit`: calls allowed per window.")
    remaining: int | None = Field(None, ge=0, description="`x-ratelimit-remaining`: calls left in the window.")
    reset_at: float | None = Field(None, description="`x-ratelimit-reset`: epoch seconds when the window resets.")
    retry_after_s: float | None = Field(None, ge=0, description="`Retry-After` in seconds, when the answer had one.")
    secondary: bool = Field(
        False, description="The answer was a secondary (abuse) limit or a 429: the key pauses for every worker."
    )
