"""Rate limiting shared by every worker (services/rate-limiter/README.md): token buckets by key, asked before each call.

    limiter = await AmqpLimiter.connect(settings.amqp_url.get_secret_value(), client="gh-seeder-1")
    await limiter.acquire(f"github:{login}")          # sleeps as long as the fleet's bucket says
    response = await http.get(...)
    await limiter.feedback(UpstreamFeedback(key=..., status=response.status_code, ...))

`AmqpLimiter` asks the rate-limiter service (fleet-wide); `LocalLimiter` keeps the same buckets
in this process. Both satisfy `Limiter`.
"""

from ferry.ratelimit.base import Limiter, ReservingLimiter
from ferry.ratelimit.bucket import Bucket
from ferry.ratelimit.client import AmqpLimiter
from ferry.ratelimit.config import LimitRule, LimitTable, PausePolicy, RateLimitSettings
from ferry.ratelimit.core import Grant, TokenBuckets
from ferry.ratelimit.errors import LimiterClosed, RateLimitError, WaitTooLong
from ferry.ratelimit.local import LocalLimiter

__all__ = [
    "AmqpLimiter",
    "Bucket",
    "Grant",
    "LimitRule",
    "LimitTable",
    "Limiter",
    "LimiterClosed",
    "LocalLimiter",
    "PausePolicy",
    "RateLimitError",
    "RateLimitSettings",
    "ReservingLimiter",
    "TokenBuckets",
    "WaitTooLong",
]
