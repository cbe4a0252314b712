"""Every key's bucket, and how an upstream's answer turns into a cap or a pause.

`TokenBuckets` is what the rate-limiter service and `LocalLimiter` share. It is pure: the clock is
injected, and it only remembers which keys changed (`dirty`) so the service can save them.

How upstream feedback is read (GitHub's documented order):
1. a `Retry-After` on an error answer pauses the key for that long;
2. `remaining: 0` pauses the key until `reset_at`;
3. a secondary limit or a 429 pauses it for 60 s, doubling on repeats (capped), reset after quiet;
4. otherwise `remaining`/`reset_at` cap the rate so the calls left are spread until the reset.

Whatever a client reports, no pause lasts longer than `max_wait_s` (FERRY_UPSTREAM_MAX_WAIT_S of the
limiter's own settings): a client that passes on a `Retry-After` of days, or a reset far away, would
otherwise stop every worker of the fleet on that key for that long, and the pause survives failover.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import structlog

from ferry.contracts.ratelimit import UpstreamFeedback
from ferry.ratelimit.bucket import Bucket
from ferry.ratelimit.config import LimitTable, PausePolicy, RateLimitSettings

log = structlog.get_logger(__name__)

Clock = Callable[[], float]
DEFAULT_MAX_WAIT_S = 3600.0
"""FERRY_UPSTREAM_MAX_WAIT_S's default: the longest pause an upstream's answer may impose."""


@dataclass(frozen=True)
class Grant:
    """A reservation: wait `wait_s` then go (at `due_at`); `paused_until` when the key is paused."""

    key: str
    wait_s: float
    paused_until: float | None
    due_at: float


class TokenBuckets:
    """The buckets of every key, created on first use from the limit table."""

    def __init__(
        self, table: LimitTable, policy: PausePolicy | None = None, clock: Clock = time.time, *,
        max_wait_s: float = DEFAULT_MAX_WAIT_S,
    ) -> None:
        self.table = table
        self.policy = policy or PausePolicy()
        self.clock = clock
        self.max_wait_s = max_wait_s
        self.buckets: dict[str, Bucket] = {}
        self.dirty: set[str] = set()

    @classmethod
    def from_settings(cls, settings: RateLimitSettings, clock: Clock = time.time) -> TokenBuckets:
        """The buckets these settings describe: limits, pause policy and the cap on upstream waits."""
        return cls(settings.limit_table(), settings.rate_limit_pause, clock, max_wait_s=settings.upstream_max_wait_s)

    def bucket(self, key: str, rate: float | None = None, burst: int | None = None) -> Bucket:
        """The key's bucket, created full from settings (or the request's rate/burst) if new."""
        found = self.buckets.get(key)
        if found is None:
            found = self.buckets[key] = Bucket.fresh(self.table.resolve(key, rate, burst), self.clock())
        return found

    def acquire(self, key: str, tokens: int = 1, *, rate: float | None = None, burst: int | None = None) -> Grant:
        """Reserve `tokens` on `key` (0: only ask about a pause)."""
        now = self.clock()
        bucket = self.bucket(key, rate, burst)
        wait = bucket.reserve(tokens, now)
        self.dirty.add(key)
        return Grant(key, wait, bucket.paused(now), now + wait)

    def feedback(self, fb: UpstreamFeedback) -> bool:
        """Apply an upstream answer's facts; True when the key is paused by it (save at once)."""
        now = self.clock()
        fb = self._capped(fb, now)
        bucket = self.bucket(fb.key)
        self.dirty.add(fb.key)
        if fb.retry_after_s is not None and fb.status >= 400:
            bucket.secondary_limit(fb.retry_after_s, now, self.policy)
            return True
        if fb.remaining == 0 and fb.reset_at is not None and fb.reset_at > now:
            return bucket.upstream_window(0, fb.reset_at, now)
        if fb.secondary or fb.status == 429:
            bucket.secondary_limit(None, now, self.policy)
            return True
        if fb.remaining is not None and fb.reset_at is not None:
            return bucket.upstream_window(fb.remaining, fb.reset_at, now)
        return False

    def _capped(self, fb: UpstreamFeedback, now: float) -> UpstreamFeedback:
        """`fb` with `Retry-After` and the reset at most `max_wait_s` away (infinite or NaN ones too); logged."""
        longest = self.max_wait_s
        update: dict[str, float] = {}
        # `not (x <= longest)` rather than `x > longest`: a NaN is capped as well.
        if fb.retry_after_s is not None and not fb.retry_after_s <= longest:
            update["retry_after_s"] = longest
        if fb.reset_at is not None and not fb.reset_at - now <= longest:
            update["reset_at"] = now + longest
        if not update:
            return fb
        log.warning(
            "upstream wait capped", key=fb.key, status=fb.status, retry_after_s=fb.retry_after_s,
            reset_in_s=None if fb.reset_at is None else fb.reset_at - now, max_wait_s=longest,
        )
        return fb.model_copy(update=update)

    def paused_until(self, key: str) -> float | None:
        """When the key's pause ends, while it is paused."""
        bucket = self.buckets.get(key)
        return None if bucket is None else bucket.paused(self.clock())

    def take_dirty(self) -> dict[str, Bucket]:
        """Copies of the buckets changed since the last call (to save), and forget they changed."""
        changed = {key: copy.copy(self.buckets[key]) for key in self.dirty if key in self.buckets}
        self.dirty.clear()
        return changed

    def replace(self, saved: Iterable[tuple[str, Bucket]]) -> None:
        """Take over saved state (a standby becoming active); settings win over saved rate/burst."""
        self.buckets = {}
        latest = self.clock() + self.max_wait_s  # a pause saved before the cap was lowered (or existed)
        for key, bucket in saved:
            rule = self.table.configured(key)
            if rule is not None:
                bucket.rate, bucket.burst = rule.rate, rule.burst
            if bucket.paused_until is not None and bucket.paused_until > latest:
                bucket.paused_until, bucket.origin = latest, min(bucket.origin, latest)
            self.buckets[key] = bucket
        self.dirty.clear()

    def prune(self) -> list[str]:
        """Forget buckets in which nothing is pending (full, unpaused); returns their keys."""
        now = self.clock()
        gone = [key for key, bucket in self.buckets.items() if bucket.idle(now, self.policy)]
        for key in gone:
            del self.buckets[key]
            self.dirty.discard(key)
        return gone
