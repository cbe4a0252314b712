"""Which rate and burst each key gets, and how long upstream pauses last (settings).

`FERRY_RATE_LIMITS` maps key patterns to limits as JSON; a pattern ending in `*` matches every key
starting with what comes before it, and the longest matching pattern wins:

    FERRY_RATE_LIMITS='{"github:*": {"rate": 1.39, "burst": 10}, "http:*": {"rate": 5, "burst": 5}}'

A key no pattern matches uses the rate and burst its first request brought (dynamic keys such as
`job:<job_id>`), else `FERRY_RATE_LIMIT_DEFAULT`.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from ferry.settings import FerrySettings


class LimitRule(BaseModel):
    """A bucket's steady rate and its size."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rate: float = Field(gt=0, description="Calls per second allowed on average.")
    burst: int = Field(ge=1, description="Calls allowed at once after a quiet spell (the bucket's size).")


class PausePolicy(BaseModel):
    """How long a secondary limit (or a 429 without `Retry-After`) pauses a key."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    first_pause_s: float = Field(60.0, gt=0, description="Pause after a first secondary limit (GitHub: 60 s).")
    max_pause_s: float = Field(900.0, gt=0, description="Longest pause the doubling on repeats reaches.")
    quiet_s: float = Field(600.0, ge=0, description="Seconds without a secondary limit after which backoff resets.")

    def pause_for(self, strikes: int) -> float:
        """The pause after the `strikes`-th secondary limit in a row: doubling, capped."""
        return min(self.max_pause_s, self.first_pause_s * 2.0 ** max(0, strikes - 1))


class LimitTable:
    """Key patterns to limits, with the default for unknown keys."""

    def __init__(self, rules: dict[str, LimitRule], default: LimitRule) -> None:
        self.default = default
        self._exact = {p: r for p, r in rules.items() if not p.endswith("*")}
        # Longest prefix first, so `github:bot*` beats `github:*`.
        self._prefixes = sorted(
            ((p.removesuffix("*"), r) for p, r in rules.items() if p.endswith("*")), key=lambda pr: -len(pr[0])
        )

    def configured(self, key: str) -> LimitRule | None:
        """The rule the settings give `key`, or None when no pattern matches it."""
        if key in self._exact:
            return self._exact[key]
        for prefix, rule in self._prefixes:
            if key.startswith(prefix):
                return rule
        return None

    def resolve(self, key: str, rate: float | None = None, burst: int | None = None) -> LimitRule:
        """Settings first; else the rate/burst a request brought (dynamic keys); else the default."""
        rule = self.configured(key)
        if rule is not None:
            return rule
        if rate is not None:
            return LimitRule(rate=rate, burst=burst or 1)
        return self.default


class RateLimitSettings(FerrySettings):
    """`FerrySettings` plus the limits every limiter (the service, `LocalLimiter`) applies."""

    rate_limits: dict[str, LimitRule] = Field(
        default_factory=dict, description="Key pattern -> {rate, burst}, as JSON (FERRY_RATE_LIMITS)."
    )
    rate_limit_default: LimitRule = Field(
        LimitRule(rate=10.0, burst=10), description="Limits of a key no pattern matches (FERRY_RATE_LIMIT_DEFAULT)."
    )
    rate_limit_pause: PausePolicy = Field(
        default_factory=PausePolicy, description="Secondary-limit pauses: first, max, quiet (FERRY_RATE_LIMIT_PAUSE)."
    )

    def limit_table(self) -> LimitTable:
        return LimitTable(self.rate_limits, self.rate_limit_default)
