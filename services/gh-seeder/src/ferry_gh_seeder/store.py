"""SQL of the seeder's own tables (schema `gh_seeder`). Every function takes the connection, and so
the transaction, it must run in: a pull request's rows and its `fetched_prs` checkpoint commit
together with the job step that fetched them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from ferry.db import Conn, schema_name
from ferry_gh_seeder import SERVICE

S = f'"{schema_name(SERVICE)}"'


def repo_key(repo: str) -> str:
    """How a repository is keyed in the tables: `owner/name` in lower case."""
    return repo.lower()


def _ts(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


def _login(obj: Any) -> str | None:
    return obj.get("login") if isinstance(obj, dict) else None


def _state(pull: dict[str, Any]) -> str:
    if pull.get("merged") or pull.get("merged_at"):
        return "merged"
    return "closed" if pull.get("state") == "closed" else "open"


def _commit_row(repo: str, number: int, commit: dict[str, Any]) -> tuple[Any, ...]:
    git = commit.get("commit") or {}
    author = _login(commit.get("author")) or (git.get("author") or {}).get("name")
    when = _ts((git.get("committer") or {}).get("date"))
    return (repo, number, str(commit["sha"]), author, git.get("message"), when, commit)


def _ref(pull: dict[str, Any], side: str) -> str | None:
    branch = pull.get(side)
    return branch.get("ref") if isinstance(branch, dict) else None


def _pull_row(repo: str, pull: dict[str, Any], detailed: bool) -> tuple[Any, ...]:
    return (
        repo, int(pull["number"]), pull.get("id"), _state(pull), str(pull.get("title") or ""), _login(pull.get("user")),
        bool(pull.get("draft")), _ref(pull, "base"), _ref(pull, "head"), pull.get("additions"), pull.get("deletions"),
        pull.get("changed_files"), _ts(pull.get("created_at")), _ts(pull.get("updated_at")),
        _ts(pull.get("closed_at")), _ts(pull.get("merged_at")), pull, detailed,
    )


_PULL_COLUMNS = (
    "repo, number, github_id, state, title, author, draft, base_ref, head_ref, additions, deletions, changed_files,"
    " created_at, updated_at, closed_at, merged_at, raw, detailed"
)
_PULL_VALUES = "$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18"


async def record_listed(conn: Conn, repo: str, pulls: list[dict[str, Any]]) -> None:
    """Record pull requests as the list shows them (a detailed row already there is left alone)."""
    key = repo_key(repo)
    await conn.executemany(
        f"INSERT INTO {S}.pull_requests ({_PULL_COLUMNS}) VALUES ({_PULL_VALUES})"
        " ON CONFLICT (repo, number) DO UPDATE SET state = EXCLUDED.state, title = EXCLUDED.title,"
        " updated_at = EXCLUDED.updated_at, closed_at = EXCLUDED.closed_at, merged_at = EXCLUDED.merged_at,"
        " raw = EXCLUDED.raw WHERE NOT pull_requests.detailed",
        [_pull_row(key, p, False) for p in pulls],
    )


async def fetched_among(conn: Conn, repo: str, numbers: Iterable[int]) -> set[int]:
    """Which of `numbers` are complete (never to be fetched again)."""
    rows = await conn.fetch(
        f"SELECT number FROM {S}.fetched_prs WHERE repo = $1 AND number = ANY($2::int[])", repo_key(repo), list(numbers)
    )
    return {r["number"] for r in rows}


async def fetched_numbers(conn: Conn, repo: str) -> list[int]:
    rows = await conn.fetch(f"SELECT number FROM {S}.fetched_prs WHERE repo = $1 ORDER BY number", repo_key(repo))
    return [r["number"] for r in rows]


async def known_pulls(conn: Conn, repo: str) -> int:
    """Pull requests of `repo` seen in a listing (for the checkpoint's total_prs_found)."""
    return int(await conn.fetchval(f"SELECT count(*) FROM {S}.pull_requests WHERE repo = $1", repo_key(repo)))


async def mark_fetched(conn: Conn, repo: str, numbers: list[int], job_id: UUID, source: str) -> int:
    """Mark pull requests complete; returns how many were not already."""
    if not numbers:
        return 0
    inserted = await conn.fetchval(
        f"WITH new AS (INSERT INTO {S}.fetched_prs (repo, number, job_id, source)"
        " SELECT $1, n, $3, $4 FROM unnest($2::int[]) AS n ON CONFLICT DO NOTHING RETURNING 1)"
        " SELECT count(*) FROM new",
        repo_key(repo), numbers, job_id, source,
    )
    return int(inserted)


async def lock_pull(conn: Conn, repo: str, number: int) -> bool:
    """Hold `repo#number` for this transaction (two jobs never fetch one pull request at once);
    True if it is already complete once the lock is ours."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtext('gh-seeder.pr'), hashtext($1))", f"{repo_key(repo)}#{number}"
    )
    return bool(await fetched_among(conn, repo, [number]))


async def store_pull(
    conn: Conn, repo: str, pull: dict[str, Any], reviews: list[dict[str, Any]], commits: list[dict[str, Any]],
    files: list[dict[str, Any]], job_id: UUID,
) -> None:
    """Upsert one pull request with its reviews, commits and files, and mark it complete."""
    key, number = repo_key(repo), int(pull["number"])
    await conn.execute(
        f"INSERT INTO {S}.pull_requests ({_PULL_COLUMNS}) VALUES ({_PULL_VALUES})"
        f" ON CONFLICT (repo, number) DO UPDATE SET ({_PULL_COLUMNS}) = ({_PULL_VALUES})",
        *_pull_row(key, pull, True),
    )
    await conn.executemany(
        f"INSERT INTO {S}.reviews (repo, number, review_id, author, state, submitted_at, raw)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (repo, number, review_id) DO UPDATE SET"
        " author = EXCLUDED.author, state = EXCLUDED.state, submitted_at = EXCLUDED.submitted_at, raw = EXCLUDED.raw",
        [(key, number, int(r["id"]), _login(r.get("user")), r.get("state"), _ts(r.get("submitted_at")), r)
         for r in reviews],
    )
    await conn.executemany(
        f"INSERT INTO {S}.commits (repo, number, sha, author, message, committed_at, raw)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (repo, number, sha) DO UPDATE SET"
        " author = EXCLUDED.author, message = EXCLUDED.message, committed_at = EXCLUDED.committed_at,"
        " raw = EXCLUDED.raw",
        [_commit_row(key, number, c) for c in commits],
    )
    await conn.executemany(
        f"INSERT INTO {S}.files (repo, number, filename, status, additions, deletions, changes, raw)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (repo, number, filename) DO UPDATE SET"
        " status = EXCLUDED.status, additions = EXCLUDED.additions, deletions = EXCLUDED.deletions,"
        " changes = EXCLUDED.changes, raw = EXCLUDED.raw",
        [(key, number, str(f["filename"]), f.get("status"), f.get("additions"), f.get("deletions"), f.get("changes"), f)
         for f in files],
    )
    await mark_fetched(conn, repo, [number], job_id, "crawl")


# -- per job and repository ----------------------------------------------------------------
async def start_repo(conn: Conn, job_id: UUID, repo: str, from_file: list[int]) -> None:
    await conn.execute(
        f"INSERT INTO {S}.crawl_repos (job_id, repo, from_file) VALUES ($1, $2, $3::int[])"
        " ON CONFLICT (job_id, repo) DO UPDATE SET from_file = EXCLUDED.from_file",
        job_id, repo_key(repo), from_file,
    )


async def from_file(conn: Conn, job_id: UUID, repo: str) -> set[int]:
    numbers = await conn.fetchval(
        f"SELECT from_file FROM {S}.crawl_repos WHERE job_id = $1 AND repo = $2", job_id, repo_key(repo)
    )
    return set(numbers or [])


async def count_listing(conn: Conn, job_id: UUID, repo: str, *, found: int, already: int, last: bool) -> None:
    await conn.execute(
        f"UPDATE {S}.crawl_repos SET found = found + $3, already_fetched = already_fetched + $4, pages = pages + 1,"
        " listed = listed OR $5 WHERE job_id = $1 AND repo = $2",
        job_id, repo_key(repo), found, already, last,
    )


async def count_fetch(
    conn: Conn, job_id: UUID, repo: str, *, fetched: int = 0, failed: int = 0, reviews: int = 0, commits: int = 0,
    files: int = 0, requests: int = 0, already: int = 0,
) -> None:
    await conn.execute(
        f"UPDATE {S}.crawl_repos SET fetched = fetched + $3, failed = failed + $4, reviews = reviews + $5,"
        " commits = commits + $6, files = files + $7, requests = requests + $8, already_fetched = already_fetched + $9"
        " WHERE job_id = $1 AND repo = $2",
        job_id, repo_key(repo), fetched, failed, reviews, commits, files, requests, already,
    )


async def job_repos(conn: Conn, job_id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"SELECT repo, found, already_fetched, pages, listed, fetched, failed, reviews, commits, files, requests,"
        f" cardinality(from_file) AS from_file FROM {S}.crawl_repos WHERE job_id = $1 ORDER BY repo",
        job_id,
    )
