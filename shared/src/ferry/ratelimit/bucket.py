"""One token bucket with reservations, upstream caps and pauses: pure arithmetic, no clock, no I/O.

Every method takes `now` (epoch seconds), so the same state can be saved by one process and
carried on by another, and tests drive time by hand.

The state is `level` tokens at time `origin`. The level refills at the rate from `origin` on, up to
`burst`. A reservation takes its tokens at once, so the level may go below zero: the debt is the
callers queued ahead, and a new caller waits until the debt plus its own tokens have been earned
(first come, first served). A pause moves `origin` into the future: nothing refills, and no
reservation is ready, before it.

An upstream's `remaining`/`reset` caps the rate until the reset so that no more than `remaining`
calls fall before it, spread evenly.
"""

from __future__ import annotations

from dataclasses import dataclass

from ferry.ratelimit.config import LimitRule, PausePolicy


@dataclass
class Bucket:
    """A key's bucket; the fields are what is persisted."""

    rate: float
    burst: int
    level: float
    origin: float
    paused_until: float | None = None
    strikes: int = 0
    strike_until: float | None = None  # end of the last secondary-limit pause (backoff resets after quiet_s)
    cap_rate: float | None = None  # upstream-imposed rate, in force until cap_until
    cap_until: float | None = None
    cap_remaining: int | None = None
    touched: float = 0.0

    @classmethod
    def fresh(cls, rule: LimitRule, now: float) -> Bucket:
        """A full bucket."""
        return cls(rate=rule.rate, burst=rule.burst, level=float(rule.burst), origin=now, touched=now)

    # -- refilling -----------------------------------------------------------------------------

    def _rate_at(self, t: float) -> float:
        if self.cap_rate is not None and self.cap_until is not None and t < self.cap_until:
            return min(self.rate, self.cap_rate)
        return self.rate

    def _earned(self, start: float, end: float) -> float:
        """Tokens earned between `start` and `end` (the rate changes when the cap ends)."""
        if end <= start:
            return 0.0
        if self.cap_until is not None and start < self.cap_until < end:
            return self._rate_at(start) * (self.cap_until - start) + self.rate * (end - self.cap_until)
        return self._rate_at(start) * (end - start)

    def _time_to_earn(self, start: float, amount: float) -> float:
        """Seconds from `start` until `amount` tokens have been earned."""
        if amount <= 0:
            return 0.0
        rate = self._rate_at(start)
        if self.cap_until is not None and start < self.cap_until:
            in_cap = rate * (self.cap_until - start)
            if in_cap >= amount:
                return amount / rate
            return (self.cap_until - start) + (amount - in_cap) / self.rate
        return amount / rate

    def refill(self, now: float) -> None:
        """Bring the level up to `now` (nothing happens before `origin`, e.g. while paused)."""
        if now > self.origin:
            self.level = min(float(self.burst), self.level + self._earned(self.origin, now))
            self.origin = now
        if self.cap_until is not None and self.origin >= self.cap_until:
            self.cap_rate = self.cap_until = self.cap_remaining = None
        if self.paused_until is not None and now >= self.paused_until:
            self.paused_until = None

    # -- reservations --------------------------------------------------------------------------

    def reserve(self, tokens: int, now: float) -> float:
        """Take `tokens` now; seconds the caller must wait before using them (0 = go now).

        `tokens=0` reserves nothing and answers how long the key stays paused.
        """
        self.refill(now)
        self.touched = now
        if tokens == 0:
            return max(0.0, (self.paused_until or now) - now)
        self.level -= tokens
        start = max(self.origin, now)
        return start - now + self._time_to_earn(start, -self.level)

    def paused(self, now: float) -> float | None:
        """The epoch second the pause ends, while one is in force."""
        return self.paused_until if self.paused_until is not None and self.paused_until > now else None

    # -- upstream feedback ---------------------------------------------------------------------

    def pause(self, until: float, now: float) -> None:
        """Nothing is granted before `until`; then (at most) one call may go, and the rate resumes.

        Reservations queued before the pause are forgiven: their callers check for a pause
        after waiting, and ask again (see the clients).
        """
        self.refill(now)
        self.paused_until = max(self.paused_until or 0.0, until)
        # What the pause lets refill, capped at one call: no burst the moment a pause ends.
        refilled = max(self.level, 0.0) + self.rate * max(0.0, self.paused_until - self.origin)
        self.level = min(1.0, refilled)
        self.origin = max(self.origin, self.paused_until)
        self.touched = now

    def secondary_limit(self, retry_after_s: float | None, now: float, policy: PausePolicy) -> float:
        """A secondary limit / 429: pause for `Retry-After`, else 60 s doubling on repeats; the end."""
        if self.paused(now) is None:
            # A new episode: reports about the same one (several workers hit it at once) are not repeats.
            repeat = self.strike_until is not None and now - self.strike_until <= policy.quiet_s
            self.strikes = self.strikes + 1 if repeat else 1
        else:
            self.strikes = max(self.strikes, 1)
        duration = retry_after_s if retry_after_s is not None else policy.pause_for(self.strikes)
        self.pause(now + duration, now)
        assert self.paused_until is not None
        self.strike_until = self.paused_until
        return self.paused_until

    def upstream_window(self, remaining: int, reset_at: float, now: float) -> bool:
        """`remaining` calls are left until `reset_at`: cap the rate so at most that many fall before it.

        Returns True when the key is now paused (nothing remaining). Reports older than what the
        bucket already knows (a higher `remaining` for the same reset, an earlier reset) are ignored.
        """
        if reset_at <= now:
            return False
        if self.cap_until is not None and now < self.cap_until:
            if reset_at < self.cap_until:
                return False
            if reset_at == self.cap_until and self.cap_remaining is not None and remaining > self.cap_remaining:
                return False
        if remaining == 0:
            self.pause(reset_at, now)
            return True
        self.refill(now)
        start = max(now, self.origin)  # nothing goes before a pause ends
        if start >= reset_at:
            return False
        allowed = remaining / (reset_at - start)
        if max(self.level, 0.0) + self.rate * (reset_at - start) <= remaining:
            self.cap_rate = self.cap_until = self.cap_remaining = None  # the configured rate is stricter
            return False
        # Reserved-but-unspent tokens are calls still to come: they count against `remaining`.
        self.cap_rate, self.cap_until, self.cap_remaining = allowed, reset_at, remaining
        self.level = min(self.level, 0.0)
        self.touched = now
        return False

    def idle(self, now: float, policy: PausePolicy) -> bool:
        """True when forgetting this bucket changes nothing: full, unpaused, uncapped, backoff over."""
        self.refill(now)
        backoff_over = self.strike_until is None or now - self.strike_until > policy.quiet_s
        return self.level >= self.burst and self.paused(now) is None and self.cap_until is None and backoff_over
