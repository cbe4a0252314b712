"""Keeping `--checkpoint-file`s in step with the Postgres checkpoint.

Postgres (`fetched_prs`) is the truth; a file is its picture for one repository, written
atomically from what is committed. While a crawl runs, each worker rewrites a job's files at most
every `every_s` seconds; the job's last step writes them once more with `completed` set.
"""

from __future__ import annotations

import time
from pathlib import Path

import asyncpg

from ferry.db import Conn
from ferry_gh_seeder import checkpoint, store
from ferry_gh_seeder.checkpoint import SeedingCheckpoint
from ferry_gh_seeder.errors import CheckpointInvalid


def paths(base: str, repos: list[str]) -> dict[str, Path]:
    """Each repository's checkpoint file for a job given `--checkpoint-file base`."""
    return {repo: checkpoint.repo_path(base, repo, repos) for repo in repos}


def read(base: str, repos: list[str]) -> dict[str, list[int]]:
    """The pull request numbers the job's checkpoint files list as fetched, by repository.

    A several-repository job also accepts `base` itself when it is one of its repositories'
    checkpoint (a file written by the original command for that repository).
    """
    found: dict[str, list[int]] = {}
    for repo, path in paths(base, repos).items():
        numbers: set[int] = set()
        for candidate in dict.fromkeys([path, Path(base)]):
            loaded = checkpoint.load(candidate, repo)
            if loaded is not None:
                numbers.update(loaded.fetched_pr_numbers)
        found[repo] = sorted(numbers)
    return found


def check_writable(base: str) -> None:
    """CheckpointInvalid unless the file's folder exists and can be written (on this worker)."""
    folder = Path(base).parent
    if not folder.is_dir():
        raise CheckpointInvalid(f"cannot write checkpoint file {base}: folder {folder} does not exist on this worker")
    probe = folder / f".{Path(base).name}.probe"
    try:
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise CheckpointInvalid(f"cannot write checkpoint file {base}: {exc.strerror or exc}") from exc


async def write(conn: Conn, base: str, repos: list[str], *, completed: dict[str, bool] | None = None) -> None:
    """Write every repository's file from the checkpoint as `conn` sees it."""
    for repo, path in paths(base, repos).items():
        numbers = await store.fetched_numbers(conn, repo)
        found = await store.known_pulls(conn, repo)
        done = bool(completed and completed.get(store.repo_key(repo)))
        total = max(found, len(numbers))
        checkpoint.save(path, SeedingCheckpoint(repo, numbers, total_prs_found=total, completed=done))


class Throttle:
    """Rewrites a job's files at most every `every_s` seconds per base path (in this process)."""

    def __init__(self, pool: asyncpg.Pool, every_s: float) -> None:
        self.pool = pool
        self.every_s = every_s
        self._last: dict[str, float] = {}

    async def maybe_write(self, base: str, repos: list[str]) -> bool:
        now = time.monotonic()
        if now - self._last.get(base, float("-inf")) < self.every_s:
            return False
        self._last[base] = now
        # A connection of its own: only committed pull requests go into the file, never one
        # whose step could still roll back.
        async with self.pool.acquire() as conn:
            await write(conn, base, repos)
        return True
