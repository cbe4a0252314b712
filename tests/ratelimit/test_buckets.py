"""The token-bucket arithmetic, driven by a hand-moved clock (no broker, no database)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ferry.contracts.ratelimit import UpstreamFeedback
from ferry.ratelimit import LimitRule, LimitTable, LocalLimiter, PausePolicy, TokenBuckets, WaitTooLong
from ferry.ratelimit.base import WAKE_MARGIN_S
from ferry.ratelimit.config import RateLimitSettings

T0 = 1_700_000_000.0


class FakeClock:
    """Epoch seconds that move only when told; `sleep` moves them."""

    def __init__(self, now: float = T0) -> None:
        self.now = now
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def buckets(clock: FakeClock, rules: dict[str, LimitRule] | None = None, **policy: float) -> TokenBuckets:
    table = LimitTable(rules or {"api:*": LimitRule(rate=2.0, burst=3)}, LimitRule(rate=1.0, burst=1))
    return TokenBuckets(table, PausePolicy(**policy), clock)


def test_burst_then_steady_rate() -> None:
    clock = FakeClock()
    b = buckets(clock)
    waits = [b.acquire("api:x").wait_s for _ in range(6)]
    # 3 at once (the burst), then one every 1/rate = 0.5 s, queued first come first served.
    assert waits == pytest.approx([0, 0, 0, 0.5, 1.0, 1.5])
    clock.now += 10  # refills to the burst, no more
    assert [b.acquire("api:x").wait_s for _ in range(4)] == pytest.approx([0, 0, 0, 0.5])


def test_reservation_of_several_tokens_and_fifo() -> None:
    clock = FakeClock()
    b = buckets(clock)
    assert b.acquire("api:x", 3).wait_s == 0
    assert b.acquire("api:x", 2).wait_s == pytest.approx(1.0)
    assert b.acquire("api:x", 1).wait_s == pytest.approx(1.5)  # behind the 2 queued before it
    clock.now += 1.5
    assert b.acquire("api:x", 0).wait_s == 0  # a pause check reserves nothing
    assert b.acquire("api:x", 1).wait_s == pytest.approx(0.5)


def test_keys_from_settings_request_and_default() -> None:
    clock = FakeClock()
    table = RateLimitSettings(
        rate_limits={"github:*": LimitRule(rate=1.39, burst=10), "github:bot*": LimitRule(rate=5, burst=1)},
        rate_limit_default=LimitRule(rate=3, burst=2),
    ).limit_table()
    b = TokenBuckets(table, clock=clock)
    assert (b.bucket("github:alice").rate, b.bucket("github:alice").burst) == (1.39, 10)
    assert (b.bucket("github:bot1").rate, b.bucket("github:bot1").burst) == (5, 1)  # longest prefix wins
    assert (b.bucket("job:1", rate=0.5, burst=1).rate, b.bucket("job:1").burst) == (0.5, 1)  # dynamic key
    assert (b.bucket("github:carol", rate=100, burst=100).rate) == 1.39  # settings beat the request
    assert (b.bucket("other").rate, b.bucket("other").burst) == (3, 2)  # the default


def test_settings_parse_json_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FERRY_RATE_LIMITS", '{"http:*": {"rate": 5, "burst": 2}}')
    monkeypatch.setenv("FERRY_RATE_LIMIT_DEFAULT", '{"rate": 7, "burst": 7}')
    table = RateLimitSettings().limit_table()
    assert table.resolve("http:example.org") == LimitRule(rate=5, burst=2)
    assert table.resolve("peloton:me") == LimitRule(rate=7, burst=7)


def test_remaining_and_reset_spread_the_calls_left_until_the_reset() -> None:
    clock = FakeClock()
    b = buckets(clock, {"gh:*": LimitRule(rate=10, burst=10)})
    b.acquire("gh:a")
    # 20 calls left for the next 100 s: at most 20 before the reset, one every 5 s.
    assert b.feedback(UpstreamFeedback(key="gh:a", status=200, limit=5000, remaining=20, reset_at=T0 + 100)) is False
    waits = [b.acquire("gh:a").wait_s for _ in range(20)]
    assert waits == pytest.approx([5.0 * (i + 1) for i in range(20)])
    assert waits[-1] <= 100
    # A stale report (more remaining, same reset) does not loosen it.
    b.feedback(UpstreamFeedback(key="gh:a", status=200, remaining=4000, reset_at=T0 + 100))
    # The 21st call falls after the reset, where the configured 10/s applies again.
    assert b.acquire("gh:a").wait_s == pytest.approx(100.1)
    # After the reset the configured rate is back (the queue of 21 reservations is served first).
    clock.now = T0 + 200
    assert [b.acquire("gh:a").wait_s for _ in range(3)] == pytest.approx([0, 0, 0])


def test_remaining_that_the_configured_rate_cannot_exceed_changes_nothing() -> None:
    clock = FakeClock()
    b = buckets(clock, {"gh:*": LimitRule(rate=1, burst=2)})
    b.feedback(UpstreamFeedback(key="gh:a", status=200, remaining=4000, reset_at=T0 + 3600))
    assert [b.acquire("gh:a").wait_s for _ in range(3)] == pytest.approx([0, 0, 1.0])


def test_remaining_zero_pauses_until_the_reset() -> None:
    clock = FakeClock()
    b = buckets(clock)
    assert b.feedback(UpstreamFeedback(key="api:x", status=403, remaining=0, reset_at=T0 + 42)) is True
    grant = b.acquire("api:x")
    assert grant.paused_until == T0 + 42
    assert grant.wait_s == pytest.approx(42)  # one call may go at the reset...
    assert b.acquire("api:x").wait_s == pytest.approx(42.5)  # ...then the rate resumes


def test_secondary_limit_pauses_60s_then_doubles_on_repeats_capped_and_resets_after_quiet() -> None:
    clock = FakeClock()
    b = buckets(clock, first_pause_s=60, max_pause_s=200, quiet_s=600)
    pauses = []
    for _ in range(4):
        b.feedback(UpstreamFeedback(key="api:x", status=403, secondary=True))
        until = b.paused_until("api:x")
        assert until is not None
        pauses.append(until - clock.now)
        clock.now = until + 10  # limited again soon after the pause ended
    assert pauses == pytest.approx([60, 120, 200, 200])
    clock.now += 601  # a quiet spell: back to the first pause
    b.feedback(UpstreamFeedback(key="api:x", status=429))
    assert b.paused_until("api:x") == pytest.approx(clock.now + 60)


def test_reports_of_one_episode_from_many_workers_are_not_repeats() -> None:
    clock = FakeClock()
    b = buckets(clock)
    for _ in range(5):  # five workers hit the same limit at once
        b.feedback(UpstreamFeedback(key="api:x", status=403, secondary=True))
        clock.now += 0.1
    assert b.paused_until("api:x") == pytest.approx(T0 + 60)


def test_retry_after_is_honoured_first_and_pause_never_shortened() -> None:
    clock = FakeClock()
    b = buckets(clock)
    b.feedback(UpstreamFeedback(key="api:x", status=429, retry_after_s=30, remaining=0, reset_at=T0 + 500))
    assert b.paused_until("api:x") == pytest.approx(T0 + 30)
    b.feedback(UpstreamFeedback(key="api:x", status=403, retry_after_s=5))
    assert b.paused_until("api:x") == pytest.approx(T0 + 30)  # a shorter report does not lift it
    # A success report with plenty remaining does not lift a pause either.
    b.feedback(UpstreamFeedback(key="api:x", status=200, remaining=4999, reset_at=T0 + 3600))
    # (It caps the rate to 4999 calls in the 3570 s after the pause: the first call goes one interval later.)
    assert b.acquire("api:x").wait_s == pytest.approx(30 + 3570 / 4999)


def test_a_pause_forgives_queued_reservations_so_callers_queue_again() -> None:
    clock = FakeClock()
    b = buckets(clock)
    for _ in range(10):
        b.acquire("api:x")  # 7 queued beyond the burst
    b.feedback(UpstreamFeedback(key="api:x", status=403, secondary=True))
    assert b.acquire("api:x").wait_s == pytest.approx(60)  # not 60 + 7 * 0.5


def test_idle_buckets_are_pruned_but_not_paused_or_queued_ones() -> None:
    clock = FakeClock()
    b = buckets(clock, quiet_s=10)
    b.acquire("api:idle")
    b.acquire("api:queued", 10)
    b.feedback(UpstreamFeedback(key="api:paused", status=429))
    clock.now += 3
    assert b.prune() == ["api:idle"]


async def test_local_limiter_sleeps_the_reservation_and_rechecks_for_a_pause() -> None:
    clock = FakeClock()
    limiter = LocalLimiter(
        LimitTable({}, LimitRule(rate=1, burst=1)), clock=clock, sleep=clock.sleep, policy=PausePolicy()
    )
    assert await limiter.acquire("k") == 0
    assert await limiter.acquire("k") == pytest.approx(1.0 + WAKE_MARGIN_S)
    await limiter.feedback(UpstreamFeedback(key="k", status=403, secondary=True))
    assert await limiter.acquire("k") == pytest.approx(60, abs=2 * WAKE_MARGIN_S)
    with pytest.raises(WaitTooLong, match="k asks to wait"):
        await limiter.acquire("k", max_wait_s=0.5)


@settings(max_examples=60, deadline=None)
@given(
    rate=st.floats(0.5, 50), burst=st.integers(3, 20),  # a request never asks more than the burst
    gaps=st.lists(st.floats(0, 2), min_size=1, max_size=60), tokens=st.integers(1, 3),
)
def test_grants_never_exceed_burst_plus_rate_times_window(
    rate: float, burst: int, gaps: list[float], tokens: int
) -> None:
    clock = FakeClock()
    b = buckets(clock, {"k": LimitRule(rate=rate, burst=burst)})
    grants: list[float] = []
    for gap in gaps:
        clock.now += gap
        grants.extend([clock.now + b.acquire("k", tokens).wait_s] * tokens)
    grants.sort()
    for i, start in enumerate(grants):
        for j in range(i, len(grants)):
            window = grants[j] - start
            assert j - i + 1 <= burst + rate * window + 1e-4  # epoch floats carry ~1e-7 s


def test_client_reported_waits_are_capped_by_the_limiters_setting() -> None:
    clock = FakeClock()
    table = LimitTable({}, LimitRule(rate=1.0, burst=1))
    b = TokenBuckets(table, clock=clock, max_wait_s=3600)
    assert b.feedback(UpstreamFeedback(key="k:retry", status=429, retry_after_s=5 * 86400))
    assert b.feedback(UpstreamFeedback(key="k:inf", status=503, retry_after_s=float("inf")))
    assert b.feedback(UpstreamFeedback(key="k:reset", status=403, remaining=0, reset_at=T0 + 30 * 86400))
    for key in ("k:retry", "k:inf", "k:reset"):
        assert b.paused_until(key) == T0 + 3600, key
    # Under the cap, the upstream's word stands.
    assert b.feedback(UpstreamFeedback(key="k:short", status=429, retry_after_s=90))
    assert b.paused_until("k:short") == T0 + 90
    # A pause saved before the cap (or under a larger one) is cut when the buckets are loaded.
    far = TokenBuckets(table, clock=clock, max_wait_s=86400 * 30)
    far.feedback(UpstreamFeedback(key="k:saved", status=429, retry_after_s=20 * 86400))
    b.replace(far.take_dirty().items())
    assert b.paused_until("k:saved") == T0 + 3600
    assert b.acquire("k:saved").wait_s <= 3600


def test_the_cap_comes_from_ferry_upstream_max_wait_s() -> None:
    settings = RateLimitSettings(upstream_max_wait_s=60)
    assert TokenBuckets.from_settings(settings).max_wait_s == 60
    assert LocalLimiter.from_settings(settings).buckets.max_wait_s == 60
