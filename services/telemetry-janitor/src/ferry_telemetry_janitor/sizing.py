"""How big each batch is, and whether one statement will do: sized by time, not by a fixed count.

The seed switches to one statement above a fixed 50,000 rows. What matters to the other users
of the table is how long a transaction holds its row locks, and that depends on the machine, the
row width and the load, not on a row count. So the janitor measures: each batch's duration gives
the delete speed, and the next batch is sized to take about TARGET_SHARE of FERRY_JANITOR_MAX_LOCK_MS,
leaving the rest of the bound as a margin.
"""

from __future__ import annotations

TARGET_SHARE = 0.25
"""A batch aims at this share of the lock bound: the rest absorbs the checkpoint written in the same
transaction and the stalls of a busy disk (checkpoints, WAL segment writes), which were seen to add
300-400 ms to a batch here; smaller batches cost little throughput (bench/README.md)."""
SMOOTHING = 0.5
"""Weight of the newest batch in the smoothed speed."""
MAX_GROWTH = 2.0
"""A batch is at most this many times the previous one: one fast measurement may be noise."""
MIN_BATCH = 1
MAX_BATCH = 5_000_000
DEFAULT_RATE = 100_000.0
"""Rows/s assumed before this table's delete speed has been measured (deliberately low)."""


STATEMENT_SHARE = 0.8
"""A batch's statements are cancelled past this share of the bound (the rest is for the commit)."""
LOCK_WAIT_SHARE = 0.25
"""A batch waits at most this share of the bound for rows another transaction holds."""


def target_ms(bound_ms: float) -> float:
    return bound_ms * TARGET_SHARE


def statement_ms(bound_ms: float) -> float:
    return bound_ms * STATEMENT_SHARE


def lock_wait_ms(bound_ms: float) -> int:
    return max(1, int(bound_ms * LOCK_WAIT_SHARE))


def next_batch_size(
    size: int, deleted: int, elapsed_ms: float, bound_ms: float, rate: float | None = None
) -> tuple[int, float | None]:
    """The next batch's size, and the smoothed speed (units/ms) to carry to the batch after.

    A batch of `size` units (rows, or ids walked) got through `deleted` of them in `elapsed_ms`.
    The next one is sized from the slower of this batch's speed and the smoothed speed: one fast
    batch (a quiet moment) barely grows the next, one slow batch (a checkpoint, a busy disk)
    shrinks it at once. Growth is also capped at x2 per batch.
    """
    if deleted <= 0 or elapsed_ms <= 0:
        return max(MIN_BATCH, min(MAX_BATCH, int(size * MAX_GROWTH))), rate
    measured = deleted / elapsed_ms
    smoothed = measured if rate is None else (1 - SMOOTHING) * rate + SMOOTHING * measured
    ideal = min(measured, smoothed) * target_ms(bound_ms)
    return max(MIN_BATCH, min(MAX_BATCH, int(min(ideal, size * MAX_GROWTH)))), smoothed


def choose_method(found: int, *, use_cursor: bool, rate: float | None, bound_ms: float) -> tuple[str, str]:
    """`("single" | "batched", why)`: one statement only when it should fit under the lock bound."""
    if use_cursor:
        return "single", "--use-cursor: one DELETE statement, as asked (falls back to batches if it fails)"
    speed, source = (rate, "measured") if rate else (DEFAULT_RATE, "assumed")
    estimate_ms = found / speed * 1000
    budget = target_ms(bound_ms)
    basis = f"{found:,} rows at ~{speed:,.0f} rows/s ({source}) take ~{estimate_ms:,.0f} ms in one statement"
    if estimate_ms <= budget:
        return "single", f"{basis}, within {budget:,.0f} ms ({TARGET_SHARE:.0%} of the {bound_ms:,.0f} ms lock bound)"
    return "batched", (
        f"{basis}, over {budget:,.0f} ms ({TARGET_SHARE:.0%} of the {bound_ms:,.0f} ms lock bound): "
        "keyset batches, each sized to stay under it"
    )
