"""How batches are sized and the method chosen (pure functions, so property-tested)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ferry_telemetry_janitor import sizing

sizes = st.integers(min_value=1, max_value=sizing.MAX_BATCH)
millis = st.floats(min_value=0.01, max_value=100_000, allow_nan=False)
bounds = st.integers(min_value=10, max_value=600_000)
rates = st.none() | st.floats(min_value=1e-6, max_value=1e6, allow_nan=False)


@given(size=sizes, elapsed=millis, bound=bounds, rate=rates)
def test_growth_is_capped_and_a_slow_batch_shrinks_the_next(
    size: int, elapsed: float, bound: int, rate: float | None
) -> None:
    nxt, smoothed = sizing.next_batch_size(size, size, elapsed, bound, rate)
    assert sizing.MIN_BATCH <= nxt <= min(sizing.MAX_BATCH, 2 * size)
    assert smoothed is not None
    assert smoothed > 0
    if elapsed > sizing.target_ms(bound) and nxt > sizing.MIN_BATCH:
        assert nxt < size  # over the target: smaller at once
    # At the speed just measured, the next batch fits in the target.
    assert nxt <= sizing.MIN_BATCH or nxt * elapsed / size <= sizing.target_ms(bound) * 1.0001


def test_a_batch_that_found_nothing_doubles() -> None:
    assert sizing.next_batch_size(1_000, 0, 5.0, 500) == (2_000, None)


def test_one_statement_only_when_it_fits_under_the_bound() -> None:
    method, why = sizing.choose_method(10_000, use_cursor=False, rate=None, bound_ms=500)
    assert method == "single"
    assert "(assumed)" in why
    method, why = sizing.choose_method(1_000_000, use_cursor=False, rate=800_000, bound_ms=500)
    assert method == "batched"
    assert "(measured)" in why
    assert "1,250 ms" in why
    assert sizing.choose_method(1_000_000, use_cursor=True, rate=None, bound_ms=500)[0] == "single"
    assert sizing.choose_method(1_000_000, use_cursor=False, rate=10_000_000, bound_ms=500)[0] == "single"
