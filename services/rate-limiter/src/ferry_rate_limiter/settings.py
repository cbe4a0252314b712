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
            "the owner lease expires after half of it, and the AMQP heartbeat timeout is a quarter of it "
            "(RabbitMQ drops a silent connection two to three heartbeat timeouts after its last frame)."
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
        """AMQP heartbeat timeout: how soon the broker gives the queue to a standby when the owner is silent.

        RabbitMQ checks for incoming frames once a timeout and closes the connection after two empty
        checks, i.e. 2-3 timeouts after the last frame, depending on where in its check period the owner
        went silent. A third of the bound (the old value) reached it in the worst case (30.7 s of 30 s seen
        with SIGSTOP); a quarter leaves a quarter of it for the standby to take the lease and load.
        """
        return max(1, int(self.rate_limiter_takeover_s / 4))
