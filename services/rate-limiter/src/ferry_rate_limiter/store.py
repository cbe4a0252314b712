"""The buckets in Postgres (schema `rate_limiter`), so a standby carries on where the active left."""

from __future__ import annotations

from collections.abc import Mapping

from ferry.db import Conn, Migration, migrations_in, schema_name
from ferry.ratelimit.bucket import Bucket
from ferry_rate_limiter import SERVICE

SCHEMA = schema_name(SERVICE)

_FIELDS = (
    "rate", "burst", "level", "origin", "paused_until", "strikes", "strike_until",
    "cap_rate", "cap_until", "cap_remaining", "touched",
)
# The epoch in the WHERE: a row written by a newer owner is never overwritten by an older one.
_UPSERT = (
    f'INSERT INTO "{SCHEMA}".buckets (key, {", ".join(_FIELDS)}, epoch, saved_at) '
    f"VALUES ($1, {', '.join(f'${i}' for i in range(2, len(_FIELDS) + 3))}, now()) "
    f"ON CONFLICT (key) DO UPDATE SET {', '.join(f'{f} = EXCLUDED.{f}' for f in _FIELDS)}, "
    f'epoch = EXCLUDED.epoch, saved_at = now() WHERE "{SCHEMA}".buckets.epoch <= EXCLUDED.epoch'
)


def migrations() -> list[Migration]:
    return migrations_in("ferry_rate_limiter")


async def load(conn: Conn) -> list[tuple[str, Bucket]]:
    """Every saved bucket."""
    rows = await conn.fetch(f'SELECT key, {", ".join(_FIELDS)} FROM "{SCHEMA}".buckets')
    return [(row["key"], Bucket(**{f: row[f] for f in _FIELDS})) for row in rows]


async def save(conn: Conn, buckets: Mapping[str, Bucket], epoch: int) -> None:
    """Upsert these buckets' state as the owner of `epoch` (call inside the lease's transaction)."""
    if buckets:
        await conn.executemany(
            _UPSERT, [(key, *(getattr(b, f) for f in _FIELDS), epoch) for key, b in sorted(buckets.items())]
        )


async def forget(conn: Conn, keys: list[str], epoch: int) -> None:
    """Delete buckets the service pruned (nothing pending in them), unless a newer owner wrote them."""
    if keys:
        await conn.execute(
            f'DELETE FROM "{SCHEMA}".buckets WHERE key = ANY($1::text[]) AND epoch <= $2', keys, epoch
        )
