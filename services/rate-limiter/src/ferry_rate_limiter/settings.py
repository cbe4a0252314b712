"""The rate limiter's own settings (same `FERRY_` prefix as everything else)."""

from __future__ import annotations

from pydantic import Field

from ferry.ratelimit.config import RateLimitSettings


class RateLimiterSettings(RateLimitSettings):
    """The limits (`RateLimitSettings`) plus how the service saves and consumes."""

    rate_limiter_save_ms: float = Field(
        150.0, gt=0, le=5_000,
        description="Bucket levels are saved this often (pauses at once): what a standby can lose on a crash.",
    )
    rate_limiter_prefetch: int = Field(
        1000, ge=1, le=65_535, description="Requests RabbitMQ may hand the limiter before it answers."
    )
    rate_limiter_takeover_s: float = Field(
        30.0, ge=3, le=600,
        description=(
            "A standby takes over from an owner that vanished (killed, paused, cut off) within this bound: "
            "the owner lease expires after half of it, the broker drops a silent replica after a third."
        ),
    )
    rate_limiter_prune_s: float = Field(
        60.0, gt=0, description="How often buckets with nothing pending (full, unpaused) are forgotten."
    )

    @property
    def lease_ttl_s(self) -> float:
        """How long the owner lease lasts without a renewal."""
        return self.rate_limiter_takeover_s / 2

    @property
    def amqp_heartbeat_s(self) -> int:
        """AMQP heartbeat timeout: how soon the broker gives the queue to a standby when the owner is silent."""
        return max(1, int(self.rate_limiter_takeover_s / 3))
