"""Reading GitHub's rate-limit answers and deciding how long to wait (pure functions, clock passed in).

GitHub's documented rules, in order:
1. a `Retry-After` header: wait that many seconds;
2. `x-ratelimit-remaining: 0`: wait until `x-ratelimit-reset` (epoch seconds);
3. a secondary limit (403 or 429 whose message says so) without either: wait at least a minute,
   then back off exponentially while it keeps happening.
A plain 403 (permissions) is not a rate limit; a 429 always is.

No wait taken from an answer is longer than a cap (`DEFAULT_MAX_UPSTREAM_WAIT_S`, one hour, or the
caller's): a `Retry-After` of a billion seconds, an HTTP date years ahead or an `x-ratelimit-reset`
far in the future is read as the cap, and `RateLimitInfo.capped` says what was asked for, so a
misbehaving upstream (or proxy) cannot pause a key for years, fleet-wide, or overflow to `inf`.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from email.utils import parsedate_to_datetime
from typing import Any

from ferry.contracts.ratelimit import UpstreamFeedback

_SECONDARY_WORDS = ("secondary rate limit", "abuse detection")
DEFAULT_MAX_UPSTREAM_WAIT_S = 3600.0


class Verdict(enum.Enum):
    """What an answer means for rate limiting."""

    OK = "ok"  # not a rate-limit answer (it may still be an error)
    PRIMARY = "primary"  # the account's hourly quota is spent
    SECONDARY = "secondary"  # GitHub's secondary (abuse) limits


@dataclass(frozen=True)
class RateLimitInfo:
    """The rate-limit headers of one answer (None where absent or unreadable)."""

    limit: int | None = None
    remaining: int | None = None
    used: int | None = None
    reset_at: float | None = None
    resource: str | None = None
    retry_after_s: float | None = None
    capped: str | None = None  # what the answer asked for beyond the cap, e.g. "Retry-After 1e+09s"


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """`Retry-After` as seconds: either delta-seconds or an HTTP date."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)  # may be inf for hundreds of digits: `parse_headers` caps it
    try:
        return max(0.0, parsedate_to_datetime(text).timestamp() - now)
    except (TypeError, ValueError, OverflowError):
        return None


def parse_headers(headers: Mapping[str, str], now: float,
                  max_wait_s: float = DEFAULT_MAX_UPSTREAM_WAIT_S) -> RateLimitInfo:
    """Read x-ratelimit-* and Retry-After (header names are case-insensitive in httpx.Headers),
    with no wait beyond `max_wait_s` from `now` (see `cap_waits`)."""
    reset = _int(headers.get("x-ratelimit-reset"))
    info = RateLimitInfo(
        limit=_int(headers.get("x-ratelimit-limit")),
        remaining=_int(headers.get("x-ratelimit-remaining")),
        used=_int(headers.get("x-ratelimit-used")),
        reset_at=_as_float(reset) if reset is not None else None,
        resource=headers.get("x-ratelimit-resource"),
        retry_after_s=retry_after_seconds(headers.get("retry-after"), now),
    )
    return cap_waits(info, now=now, max_wait_s=max_wait_s)


def _as_float(value: int) -> float:
    try:
        return float(value)
    except OverflowError:  # hundreds of digits: beyond any cap, and `cap_waits` cuts it
        return math.inf


def cap_waits(info: RateLimitInfo, *, now: float, max_wait_s: float) -> RateLimitInfo:
    """`info` with `Retry-After` at most `max_wait_s` and the reset at most `max_wait_s` from now;
    `capped` names what was asked for when either was cut."""
    asked: list[str] = []
    retry_after, reset_at = info.retry_after_s, info.reset_at
    if retry_after is not None and retry_after > max_wait_s:
        asked.append(f"Retry-After {retry_after:.0f}s" if math.isfinite(retry_after)
                     else "Retry-After beyond any bound")
        retry_after = max_wait_s
    if reset_at is not None and reset_at - now > max_wait_s:
        asked.append(f"x-ratelimit-reset {reset_at - now:.0f}s away" if math.isfinite(reset_at)
                     else "x-ratelimit-reset beyond any bound")
        reset_at = now + max_wait_s
    if not asked:
        return info
    return replace(info, retry_after_s=retry_after, reset_at=reset_at,
                   capped=f"{' and '.join(asked)}, capped at {max_wait_s:.0f}s")


def error_message(body: Any) -> str:
    """GitHub's `message` from an error body ('' when there is none)."""
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return str(body["message"])
    return ""


def classify(status: int, info: RateLimitInfo, message: str) -> Verdict:
    """Is this answer a rate limit, and which kind?"""
    if status not in (403, 429):
        return Verdict.OK
    lowered = message.lower()
    if any(words in lowered for words in _SECONDARY_WORDS):
        return Verdict.SECONDARY
    if info.remaining == 0:
        return Verdict.PRIMARY
    if status == 429 or info.retry_after_s is not None or "rate limit" in lowered:
        return Verdict.SECONDARY
    return Verdict.OK


@dataclass(frozen=True)
class WaitPolicy:
    """How long rate limits make the client wait."""

    min_secondary_s: float = 60.0  # GitHub: "at least one minute"
    max_secondary_s: float = 900.0  # the exponential backoff stops growing here
    reset_margin_s: float = 1.0  # reset is whole seconds and clocks differ: wait a little past it
    max_upstream_s: float = DEFAULT_MAX_UPSTREAM_WAIT_S  # no wait an answer asks for goes beyond this


def wait_seconds(verdict: Verdict, info: RateLimitInfo, *, now: float, strikes: int, policy: WaitPolicy) -> float:
    """Seconds to wait after a rate-limit answer; `strikes` counts secondary limits in a row (>= 1)."""
    if info.retry_after_s is not None:
        return min(info.retry_after_s, policy.max_upstream_s)
    if info.remaining == 0 and info.reset_at is not None:
        return min(max(0.0, info.reset_at - now) + policy.reset_margin_s, policy.max_upstream_s)
    if verdict is Verdict.PRIMARY:  # exhausted but no reset given: behave as for a secondary limit
        strikes = max(strikes, 1)
    backoff = policy.min_secondary_s * 2.0 ** min(max(0, strikes - 1), 64)
    return float(min(policy.max_secondary_s, policy.max_upstream_s, backoff))


def exhausted_until(info: RateLimitInfo, *, now: float, policy: WaitPolicy) -> float | None:
    """When a successful answer says nothing is left, the moment the account can call again."""
    if info.remaining == 0 and info.reset_at is not None and info.reset_at > now:
        return min(info.reset_at + policy.reset_margin_s, now + policy.max_upstream_s)
    return None


def feedback(key: str, status: int, info: RateLimitInfo, verdict: Verdict) -> UpstreamFeedback | None:
    """What to report to the limiter about this answer (None when it said nothing about limits)."""
    says_something = info.limit is not None or info.remaining is not None or info.retry_after_s is not None
    if not says_something and verdict is Verdict.OK:
        return None
    return UpstreamFeedback(
        key=key, status=status, limit=info.limit, remaining=info.remaining, reset_at=info.reset_at,
        retry_after_s=info.retry_after_s if status >= 400 else None, secondary=verdict is Verdict.SECONDARY,
    )
