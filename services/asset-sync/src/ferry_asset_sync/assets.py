"""The assets table (ferry's own or an application's, FERRY_ASSET_SYNC_TABLE) and asset-sync's state.

The table's columns are read once (`AssetTable.load`): it must have the fields every pull reads
and writes (`REQUIRED`); any other field asset-sync knows is written only where the table has it,
so an application's table with fewer fields still works. Values are always bound, never spliced.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from ferry.contracts.asset_sync import PullAndCleanOptions
from ferry.db import Conn
from ferry_asset_sync.errors import TableNotFound

STALE_AFTER = timedelta(hours=24)
"""An asset synced more recently than this is left alone unless --all or --force."""

REQUIRED = frozenset({
    "id", "slug", "title", "lang", "asset_type", "status", "readme_url", "readme_raw", "readme", "last_synch_at",
    "sync_status", "status_text", "last_cleaning_at", "cleaning_status", "cleaning_status_details",
})
OPTIONAL = frozenset({
    "description", "config", "preview", "difficulty", "duration", "intro_video_url", "solution_video_url",
    "template_url", "delivery_formats", "enable_table_of_content", "authors_username", "technologies", "external",
    "owner", "updated_at", "html", "with_video", "with_solutions", "solution_url", "agent", "interactive", "gitpod",
    "delivery_instructions", "delivery_regex_url",
})
OWNER_COLUMNS = ("owner", "owner_id")


@dataclass(frozen=True)
class AssetTable:
    """The assets table: its quoted name and the columns it has."""

    sql: str
    columns: frozenset[str]

    @classmethod
    async def load(cls, conn: Conn, table_sql: str, name: str) -> AssetTable:
        schema, table = (part.strip('"') for part in table_sql.split(".", 1))
        rows = await conn.fetch(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2",
            schema, table,
        )
        columns = frozenset(r["column_name"] for r in rows)
        if not columns:
            raise TableNotFound(f"FERRY_ASSET_SYNC_TABLE: no table {name} in the database of FERRY_DATABASE_URL")
        missing = sorted(REQUIRED - columns)
        if missing:
            raise TableNotFound(f"FERRY_ASSET_SYNC_TABLE: table {name} lacks the asset fields {', '.join(missing)}")
        return cls(table_sql, columns)

    @property
    def owner_column(self) -> str | None:
        return next((c for c in OWNER_COLUMNS if c in self.columns), None)

    def writable(self, values: dict[str, Any]) -> dict[str, Any]:
        """The values whose columns this table has."""
        return {k: v for k, v in values.items() if k in self.columns}

    def _select_list(self) -> str:
        wanted = sorted((REQUIRED | OPTIONAL) & self.columns)
        owner = self.owner_column
        extra = f', "{owner}"::text AS owner_key' if owner else ", NULL::text AS owner_key"
        return ", ".join(f'"{c}"' for c in wanted) + extra

    async def select(self, conn: Conn, options: PullAndCleanOptions, now: datetime) -> list[tuple[int, str]]:
        """(id, slug) of the assets a job processes, in the registry's order (`last_synch_at`, then id)."""
        where = ["readme_url IS NOT NULL", "readme_url <> ''"]
        args: list[Any] = []
        for column, value in (("asset_type", options.asset_type), ("status", options.status), ("lang", options.lang)):
            if value is not None:
                args.append(str(value))
                where.append(f"{column} = ${len(args)}")
        if not (options.all or options.force):
            args.append(now - STALE_AFTER)
            where.append(f"(last_synch_at IS NULL OR last_synch_at < ${len(args)})")
        rows = await conn.fetch(
            f"SELECT id, slug FROM {self.sql} WHERE {' AND '.join(where)} ORDER BY last_synch_at, id", *args
        )
        return [(int(r["id"]), str(r["slug"])) for r in rows]

    async def get(self, conn: Conn, asset_id: int, *, lock: bool = False) -> dict[str, Any] | None:
        row = await conn.fetchrow(
            f"SELECT {self._select_list()} FROM {self.sql} WHERE id = $1{' FOR UPDATE' if lock else ''}", asset_id
        )
        return dict(row) if row is not None else None

    async def update(self, conn: Conn, asset_id: int, values: dict[str, Any]) -> None:
        values = self.writable(values)
        if not values:
            return
        names = list(values)
        sets = ", ".join(f'"{n}" = ${i}' for i, n in enumerate(names, 2))
        if "updated_at" in self.columns and "updated_at" not in values:
            sets += ", updated_at = now()"
        await conn.execute(f"UPDATE {self.sql} SET {sets} WHERE id = $1", asset_id, *values.values())

    async def slug_taken(self, conn: Conn, slug: str, asset_id: int) -> bool:
        found = await conn.fetchval(f"SELECT 1 FROM {self.sql} WHERE slug = $1 AND id <> $2", slug, asset_id)
        return found is not None


# -- ferry's own state, in the asset_sync schema ---------------------------------------------------


@dataclass(frozen=True)
class PullState:
    """Where an asset's files were found last time, and their ETags."""

    readme_url: str
    repo: str
    ref: str | None
    path: str
    readme_path: str | None = None
    readme_etag: str | None = None
    config_path: str | None = None
    config_etag: str | None = None


async def get_state(conn: Conn, schema: str, asset_id: int) -> PullState | None:
    row = await conn.fetchrow(
        f"SELECT readme_url, repo, ref, path, readme_path, readme_etag, config_path, config_etag "
        f"FROM {schema}.pull_state WHERE asset_id = $1", asset_id,
    )
    return PullState(**dict(row)) if row is not None else None


async def put_state(conn: Conn, schema: str, asset_id: int, state: PullState) -> None:
    await conn.execute(
        f"""INSERT INTO {schema}.pull_state AS s
                (asset_id, readme_url, repo, ref, path, readme_path, readme_etag, config_path, config_etag)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
            ON CONFLICT (asset_id) DO UPDATE SET readme_url = $2, repo = $3, ref = $4, path = $5,
                readme_path = $6, readme_etag = $7, config_path = $8, config_etag = $9, updated_at = now()""",
        asset_id, state.readme_url, state.repo, state.ref, state.path, state.readme_path, state.readme_etag,
        state.config_path, state.config_etag,
    )


async def snapshot(conn: Conn, schema: str, job_id: UUID, assets: list[tuple[int, str]], batch_size: int) -> int:
    """Record the job's selection and its batches; the number of batches."""
    await conn.executemany(
        f"INSERT INTO {schema}.job_assets (job_id, asset_id, ord, batch, slug) VALUES ($1, $2, $3, $4, $5) "
        "ON CONFLICT DO NOTHING",
        [(job_id, asset_id, i, i // batch_size, slug) for i, (asset_id, slug) in enumerate(assets)],
    )
    batches = -(-len(assets) // batch_size)
    await conn.executemany(
        f"INSERT INTO {schema}.job_batches (job_id, batch, size, remaining) VALUES ($1, $2, $3, $3) "
        "ON CONFLICT DO NOTHING",
        [(job_id, b, min(batch_size, len(assets) - b * batch_size)) for b in range(batches)],
    )
    await conn.execute(f"INSERT INTO {schema}.job_progress (job_id, total) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                       job_id, len(assets))
    return batches


async def batch_assets(conn: Conn, schema: str, job_id: UUID, batch: int) -> list[tuple[int, str, int]]:
    rows = await conn.fetch(
        f"SELECT asset_id, slug, ord FROM {schema}.job_assets WHERE job_id = $1 AND batch = $2 ORDER BY ord",
        job_id, batch,
    )
    return [(int(r["asset_id"]), str(r["slug"]), int(r["ord"])) for r in rows]


async def lock_job_asset(conn: Conn, schema: str, job_id: UUID, asset_id: int) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        f"SELECT * FROM {schema}.job_assets WHERE job_id = $1 AND asset_id = $2 FOR UPDATE", job_id, asset_id
    )
    return dict(row) if row is not None else None


@dataclass(frozen=True)
class BatchLeft:
    """What is left of a batch after one of its assets was counted off."""

    batch: int
    remaining: int
    size: int


async def record(conn: Conn, schema: str, job_id: UUID, asset_id: int, *, pulled: str | None = None,
                 cleaned: str | None = None, message: str | None = None, done: bool = False,
                 count_off: bool = False) -> BatchLeft | None:
    """Record an asset's outcome (`done`: it is finished); with `count_off` (its pull is over), count it
    off its batch and say what is left of the batch, else None."""
    row = await conn.fetchrow(
        f"""UPDATE {schema}.job_assets SET pulled = COALESCE($3, pulled), cleaned = COALESCE($4, cleaned),
                   message = COALESCE($5, message), done_at = CASE WHEN $6 THEN now() ELSE done_at END
            WHERE job_id = $1 AND asset_id = $2 RETURNING batch""",
        job_id, asset_id, pulled, cleaned, message, done,
    )
    if row is None or not count_off:
        return None
    left = await conn.fetchrow(
        f"UPDATE {schema}.job_batches SET remaining = remaining - 1 WHERE job_id = $1 AND batch = $2 "
        "RETURNING remaining, size", job_id, row["batch"],
    )
    if left is None:
        raise LookupError(f"job {job_id} has no batch {row['batch']}")  # snapshot() writes every batch
    return BatchLeft(int(row["batch"]), int(left["remaining"]), int(left["size"]))


async def counts(conn: Conn, schema: str, job_id: UUID) -> dict[str, int]:
    """The job's summary counts: found, pulled, unchanged, cleaned, failed, skipped."""
    row = await conn.fetchrow(
        f"""SELECT count(*) AS found,
                   count(*) FILTER (WHERE pulled = 'pulled') AS pulled,
                   count(*) FILTER (WHERE pulled = 'unchanged') AS unchanged,
                   count(*) FILTER (WHERE cleaned = 'cleaned') AS cleaned,
                   count(*) FILTER (WHERE pulled = 'failed' OR cleaned = 'failed') AS failed,
                   count(*) FILTER (WHERE pulled = 'skipped') AS skipped
            FROM {schema}.job_assets WHERE job_id = $1""", job_id,
    )
    return {k: int(v) for k, v in dict(row).items()} if row is not None else {}


async def failures(conn: Conn, schema: str, job_id: UUID, limit: int = 50) -> list[tuple[str, str]]:
    rows = await conn.fetch(
        f"SELECT slug, message FROM {schema}.job_assets WHERE job_id = $1 AND (pulled = 'failed' OR "
        "cleaned = 'failed') ORDER BY ord LIMIT $2", job_id, limit,
    )
    return [(str(r["slug"]), str(r["message"] or "")) for r in rows]


async def finished_one(conn: Conn, schema: str, job_id: UUID) -> tuple[int, int]:
    """Count one more asset finished: (its number, assets selected). The row stays locked until the
    step commits, so concurrent steps get consecutive numbers."""
    row = await conn.fetchrow(
        f"UPDATE {schema}.job_progress SET done = done + 1 WHERE job_id = $1 RETURNING done, total", job_id
    )
    return (int(row["done"]), int(row["total"])) if row is not None else (0, 0)


async def has_batch(conn: Conn, schema: str, job_id: UUID, batch: int) -> bool:
    found = await conn.fetchval(f"SELECT 1 FROM {schema}.job_batches WHERE job_id = $1 AND batch = $2", job_id, batch)
    return found is not None
